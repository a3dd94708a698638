
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'dpn' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'dpn'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'dpn' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour stderr and tables')
            [CompletionResult]::new('--model-index', '--model-index', [CompletionResultType]::ParameterName, 'Model-index YAML file whose models add to or replace the built-in ones')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for cached weights')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print the version, the libtorch it runs on and whether CUDA is usable')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print the version, the libtorch it runs on and whether CUDA is usable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('info', 'info', [CompletionResultType]::ParameterValue, 'Show the registry''s models: architecture, published figures, preprocessing, cache state')
            [CompletionResult]::new('convert', 'convert', [CompletionResultType]::ParameterValue, 'Convert weights (.pth of any era, safetensors) to timm-named safetensors, validated')
            [CompletionResult]::new('predict', 'predict', [CompletionResultType]::ParameterValue, 'Classify images: top-k classes per image, streamed; optional embeddings')
            [CompletionResult]::new('evaluate', 'evaluate', [CompletionResultType]::ParameterValue, 'Top-1/top-5 and loss on a labelled image set, beside the published figures')
            [CompletionResult]::new('eval', 'eval', [CompletionResultType]::ParameterValue, 'Top-1/top-5 and loss on a labelled image set, beside the published figures')
            [CompletionResult]::new('profile', 'profile', [CompletionResultType]::ParameterValue, 'Parameters, MACs, file size, peak memory and speed of models, beside the published figures')
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Download, verify and convert pretrained weights into the cache; list, verify or clean it')
            [CompletionResult]::new('train', 'train', [CompletionResultType]::ParameterValue, 'Train or fine-tune a DPN on an image folder (timm''s recipe), with exact resume')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write a model as an ONNX graph (onnxruntime, TensorRT), checked after writing')
            [CompletionResult]::new('augment', 'augment', [CompletionResultType]::ParameterValue, 'Show the training augmentation: the images `dpn train` would feed, and every random step')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'dpn;info' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour stderr and tables')
            [CompletionResult]::new('--model-index', '--model-index', [CompletionResultType]::ParameterName, 'Model-index YAML file whose models add to or replace the built-in ones')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for cached weights')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'One summary row for every model (the default without MODEL)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dpn;convert' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model the weights are for (default: inferred from the tensor shapes)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model the weights are for (default: inferred from the tensor shapes)')
            [CompletionResult]::new('--dtype', '--dtype', [CompletionResultType]::ParameterName, 'Floating-point type of the output: f32, f16 or bf16')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour stderr and tables')
            [CompletionResult]::new('--model-index', '--model-index', [CompletionResultType]::ParameterName, 'Model-index YAML file whose models add to or replace the built-in ones')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for cached weights')
            [CompletionResult]::new('--reject-non-finite', '--reject-non-finite', [CompletionResultType]::ParameterName, 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dpn;predict' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model to run (default: the one a --weights file records)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model to run (default: the one a --weights file records)')
            [CompletionResult]::new('--weights', '--weights', [CompletionResultType]::ParameterName, 'Weights file (any format `dpn convert` reads); default: the cached weights of --model')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Classes per image')
            [CompletionResult]::new('--top-k', '--top-k', [CompletionResultType]::ParameterName, 'Classes per image')
            [CompletionResult]::new('--labels', '--labels', [CompletionResultType]::ParameterName, 'Class names, one per line (`name` or `synset<TAB>name`); default: the weights'' own, else ImageNet-1k''s')
            [CompletionResult]::new('--features', '--features', [CompletionResultType]::ParameterName, 'Also write pooled pre-logit embeddings (.safetensors or .npy) keyed by path; with --shard, `{rank}` in FILE becomes the shard''s index')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Images per batch')
            [CompletionResult]::new('--batch-size', '--batch-size', [CompletionResultType]::ParameterName, 'Images per batch')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'auto, cpu, cuda or cuda:N')
            [CompletionResult]::new('--device', '--device', [CompletionResultType]::ParameterName, 'auto, cpu, cuda or cuda:N')
            [CompletionResult]::new('--dtype', '--dtype', [CompletionResultType]::ParameterName, 'Compute precision: f32, bf16 or f16 (f16 on CUDA only)')
            [CompletionResult]::new('--workers', '--workers', [CompletionResultType]::ParameterName, 'Image decoding threads (default: one per core; at most 4 per core)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Take shard I of N of the inputs; `auto`: the Slurm array''s (SLURM_ARRAY_TASK_*) or RANK/WORLD_SIZE (default: all inputs; see docs/distributed.md under a launcher)')
            [CompletionResult]::new('--img-size', '--img-size', [CompletionResultType]::ParameterName, 'Input size (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('--crop-pct', '--crop-pct', [CompletionResultType]::ParameterName, 'Center-crop fraction (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('--interpolation', '--interpolation', [CompletionResultType]::ParameterName, 'Resize filter: bicubic, bilinear, nearest, lanczos, box or hamming (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour stderr and tables')
            [CompletionResult]::new('--model-index', '--model-index', [CompletionResultType]::ParameterName, 'Model-index YAML file whose models add to or replace the built-in ones')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for cached weights')
            [CompletionResult]::new('--reject-non-finite', '--reject-non-finite', [CompletionResultType]::ParameterName, 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning')
            [CompletionResult]::new('-0', '-0', [CompletionResultType]::ParameterName, 'Paths on stdin (`-`) end in NUL bytes instead of newlines (as `xargs -0`)')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Paths on stdin (`-`) end in NUL bytes instead of newlines (as `xargs -0`)')
            [CompletionResult]::new('--channels-last', '--channels-last', [CompletionResultType]::ParameterName, 'Run in channels-last (NHWC) memory format')
            [CompletionResult]::new('--exact', '--exact', [CompletionResultType]::ParameterName, 'Run the exact network (bit for bit timm''s) instead of the faster one with BatchNorms folded into the convolutions (the default on the CPU in f32 and bf16)')
            [CompletionResult]::new('--folded', '--folded', [CompletionResultType]::ParameterName, 'Run the folded network also where it is not the default (CUDA, f16), e.g. to measure it against --exact there')
            [CompletionResult]::new('--no-retry', '--no-retry', [CompletionResultType]::ParameterName, 'On out of memory, stop (exit 8) instead of retrying at half the batch size')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dpn;evaluate' {
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Image folder (ImageFolder tree, or the root that --labels-file paths are relative to)')
            [CompletionResult]::new('--labels-file', '--labels-file', [CompletionResultType]::ParameterName, 'Labels as `path,label` CSV or `path label` lines, instead of class folders')
            [CompletionResult]::new('--labels', '--labels', [CompletionResultType]::ParameterName, 'Class names of the model''s outputs, one per line (`name` or `synset<TAB>name`); default: the weights'' own')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model to run (default: the one a --weights file records)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model to run (default: the one a --weights file records)')
            [CompletionResult]::new('--weights', '--weights', [CompletionResultType]::ParameterName, 'Weights file (any format `dpn convert` reads); default: the cached weights of --model')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Images per batch')
            [CompletionResult]::new('--batch-size', '--batch-size', [CompletionResultType]::ParameterName, 'Images per batch')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'auto, cpu, cuda or cuda:N')
            [CompletionResult]::new('--device', '--device', [CompletionResultType]::ParameterName, 'auto, cpu, cuda or cuda:N')
            [CompletionResult]::new('--dtype', '--dtype', [CompletionResultType]::ParameterName, 'Compute precision: f32, bf16 or f16 (f16 on CUDA only)')
            [CompletionResult]::new('--workers', '--workers', [CompletionResultType]::ParameterName, 'Image decoding threads (default: one per core; at most 4 per core)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Take shard I of N of the inputs; `auto`: the Slurm array''s (SLURM_ARRAY_TASK_*) or RANK/WORLD_SIZE (default: all inputs; see docs/distributed.md under a launcher)')
            [CompletionResult]::new('--img-size', '--img-size', [CompletionResultType]::ParameterName, 'Input size (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('--crop-pct', '--crop-pct', [CompletionResultType]::ParameterName, 'Center-crop fraction (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('--interpolation', '--interpolation', [CompletionResultType]::ParameterName, 'Resize filter: bicubic, bilinear, nearest, lanczos, box or hamming (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('--amp', '--amp', [CompletionResultType]::ParameterName, 'Mixed precision on CUDA: bf16 (default) or f16 (same as --dtype)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Evaluate only the first N images (after sharding)')
            [CompletionResult]::new('--results-file', '--results-file', [CompletionResultType]::ParameterName, 'Write the result (and the exact counts needed by --merge) to FILE (.json or .csv); with --shard, `{rank}` in FILE becomes the shard''s index')
            [CompletionResult]::new('--per-class', '--per-class', [CompletionResultType]::ParameterName, 'Write per-class accuracy to FILE (CSV); with --shard, `{rank}` in FILE becomes the shard''s index')
            [CompletionResult]::new('--merge', '--merge', [CompletionResultType]::ParameterName, 'Combine the JSON results files of shards into the whole set''s result')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Output format of the summary')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the summary')
            [CompletionResult]::new('--dist-timeout', '--dist-timeout', [CompletionResultType]::ParameterName, 'Under torchrun or srun: seconds to wait for the other ranks before giving up')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour stderr and tables')
            [CompletionResult]::new('--model-index', '--model-index', [CompletionResultType]::ParameterName, 'Model-index YAML file whose models add to or replace the built-in ones')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for cached weights')
            [CompletionResult]::new('--reject-non-finite', '--reject-non-finite', [CompletionResultType]::ParameterName, 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning')
            [CompletionResult]::new('--channels-last', '--channels-last', [CompletionResultType]::ParameterName, 'Run in channels-last (NHWC) memory format')
            [CompletionResult]::new('--exact', '--exact', [CompletionResultType]::ParameterName, 'Run the exact network (bit for bit timm''s) instead of the faster one with BatchNorms folded into the convolutions (the default on the CPU in f32 and bf16)')
            [CompletionResult]::new('--folded', '--folded', [CompletionResultType]::ParameterName, 'Run the folded network also where it is not the default (CUDA, f16), e.g. to measure it against --exact there')
            [CompletionResult]::new('--no-retry', '--no-retry', [CompletionResultType]::ParameterName, 'On out of memory, stop (exit 8) instead of retrying at half the batch size')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dpn;eval' {
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Image folder (ImageFolder tree, or the root that --labels-file paths are relative to)')
            [CompletionResult]::new('--labels-file', '--labels-file', [CompletionResultType]::ParameterName, 'Labels as `path,label` CSV or `path label` lines, instead of class folders')
            [CompletionResult]::new('--labels', '--labels', [CompletionResultType]::ParameterName, 'Class names of the model''s outputs, one per line (`name` or `synset<TAB>name`); default: the weights'' own')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model to run (default: the one a --weights file records)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model to run (default: the one a --weights file records)')
            [CompletionResult]::new('--weights', '--weights', [CompletionResultType]::ParameterName, 'Weights file (any format `dpn convert` reads); default: the cached weights of --model')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Images per batch')
            [CompletionResult]::new('--batch-size', '--batch-size', [CompletionResultType]::ParameterName, 'Images per batch')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'auto, cpu, cuda or cuda:N')
            [CompletionResult]::new('--device', '--device', [CompletionResultType]::ParameterName, 'auto, cpu, cuda or cuda:N')
            [CompletionResult]::new('--dtype', '--dtype', [CompletionResultType]::ParameterName, 'Compute precision: f32, bf16 or f16 (f16 on CUDA only)')
            [CompletionResult]::new('--workers', '--workers', [CompletionResultType]::ParameterName, 'Image decoding threads (default: one per core; at most 4 per core)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Take shard I of N of the inputs; `auto`: the Slurm array''s (SLURM_ARRAY_TASK_*) or RANK/WORLD_SIZE (default: all inputs; see docs/distributed.md under a launcher)')
            [CompletionResult]::new('--img-size', '--img-size', [CompletionResultType]::ParameterName, 'Input size (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('--crop-pct', '--crop-pct', [CompletionResultType]::ParameterName, 'Center-crop fraction (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('--interpolation', '--interpolation', [CompletionResultType]::ParameterName, 'Resize filter: bicubic, bilinear, nearest, lanczos, box or hamming (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('--amp', '--amp', [CompletionResultType]::ParameterName, 'Mixed precision on CUDA: bf16 (default) or f16 (same as --dtype)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Evaluate only the first N images (after sharding)')
            [CompletionResult]::new('--results-file', '--results-file', [CompletionResultType]::ParameterName, 'Write the result (and the exact counts needed by --merge) to FILE (.json or .csv); with --shard, `{rank}` in FILE becomes the shard''s index')
            [CompletionResult]::new('--per-class', '--per-class', [CompletionResultType]::ParameterName, 'Write per-class accuracy to FILE (CSV); with --shard, `{rank}` in FILE becomes the shard''s index')
            [CompletionResult]::new('--merge', '--merge', [CompletionResultType]::ParameterName, 'Combine the JSON results files of shards into the whole set''s result')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Output format of the summary')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the summary')
            [CompletionResult]::new('--dist-timeout', '--dist-timeout', [CompletionResultType]::ParameterName, 'Under torchrun or srun: seconds to wait for the other ranks before giving up')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour stderr and tables')
            [CompletionResult]::new('--model-index', '--model-index', [CompletionResultType]::ParameterName, 'Model-index YAML file whose models add to or replace the built-in ones')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for cached weights')
            [CompletionResult]::new('--reject-non-finite', '--reject-non-finite', [CompletionResultType]::ParameterName, 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning')
            [CompletionResult]::new('--channels-last', '--channels-last', [CompletionResultType]::ParameterName, 'Run in channels-last (NHWC) memory format')
            [CompletionResult]::new('--exact', '--exact', [CompletionResultType]::ParameterName, 'Run the exact network (bit for bit timm''s) instead of the faster one with BatchNorms folded into the convolutions (the default on the CPU in f32 and bf16)')
            [CompletionResult]::new('--folded', '--folded', [CompletionResultType]::ParameterName, 'Run the folded network also where it is not the default (CUDA, f16), e.g. to measure it against --exact there')
            [CompletionResult]::new('--no-retry', '--no-retry', [CompletionResultType]::ParameterName, 'On out of memory, stop (exit 8) instead of retrying at half the batch size')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dpn;profile' {
            [CompletionResult]::new('--img-size', '--img-size', [CompletionResultType]::ParameterName, 'Input side in pixels (default: the one --weights records, else each model''s registry image size)')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Images per timed batch')
            [CompletionResult]::new('--batch-size', '--batch-size', [CompletionResultType]::ParameterName, 'Images per timed batch')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'auto, cpu, cuda or cuda:N')
            [CompletionResult]::new('--device', '--device', [CompletionResultType]::ParameterName, 'auto, cpu, cuda or cuda:N')
            [CompletionResult]::new('--dtype', '--dtype', [CompletionResultType]::ParameterName, 'Compute precision: f32, bf16 or f16 (f16 on CUDA only)')
            [CompletionResult]::new('--warmup', '--warmup', [CompletionResultType]::ParameterName, 'Untimed batches before timing')
            [CompletionResult]::new('--iters', '--iters', [CompletionResultType]::ParameterName, 'Timed batches (0: analytic figures only)')
            [CompletionResult]::new('--weights', '--weights', [CompletionResultType]::ParameterName, 'Time with these weights (any format `dpn convert` reads) instead of random ones, and report how long loading them took; needs exactly one MODEL')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour stderr and tables')
            [CompletionResult]::new('--model-index', '--model-index', [CompletionResultType]::ParameterName, 'Model-index YAML file whose models add to or replace the built-in ones')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for cached weights')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Profile every model in the registry')
            [CompletionResult]::new('--channels-last', '--channels-last', [CompletionResultType]::ParameterName, 'Run in channels-last (NHWC) memory format')
            [CompletionResult]::new('--exact', '--exact', [CompletionResultType]::ParameterName, 'Run the exact network (bit for bit timm''s) instead of the faster one with BatchNorms folded into the convolutions (the default on the CPU in f32 and bf16)')
            [CompletionResult]::new('--folded', '--folded', [CompletionResultType]::ParameterName, 'Run the folded network also where it is not the default (CUDA, f16), e.g. to measure it against --exact there')
            [CompletionResult]::new('--reject-non-finite', '--reject-non-finite', [CompletionResultType]::ParameterName, 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning')
            [CompletionResult]::new('--by-stage', '--by-stage', [CompletionResultType]::ParameterName, 'MACs and activations per stage (stem, conv2..conv5, head) instead of the summary')
            [CompletionResult]::new('--no-retry', '--no-retry', [CompletionResultType]::ParameterName, 'On out of memory, stop (exit 8) instead of timing at half the batch size')
            [CompletionResult]::new('--cuda-graph', '--cuda-graph', [CompletionResultType]::ParameterName, 'CUDA: record the forward pass once as a CUDA graph and time its replays (one launch per batch instead of one per kernel; the batch size is fixed)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dpn;fetch' {
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Where to fetch from')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Base URL or directory (file:// or a plain path) holding the same file names')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Connect and read timeout, in seconds')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries after a transient failure (timeout, lost connection, HTTP 5xx or 429)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Output format of the result table')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the result table')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour stderr and tables')
            [CompletionResult]::new('--model-index', '--model-index', [CompletionResultType]::ParameterName, 'Model-index YAML file whose models add to or replace the built-in ones')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for cached weights')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every model that has weights (with --clean: everything in the cache)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Download again even when a verified file is cached')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Never touch the network; fail at once when a file is not cached')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'List cached weights (of MODELs, or of every model)')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Re-check cached files against their digests (exit code 4 on a mismatch)')
            [CompletionResult]::new('--clean', '--clean', [CompletionResultType]::ParameterName, 'Remove cached files of MODELs (or, with --all, everything under the cache''s weights/)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dpn;train' {
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Training images: an ImageFolder (DIR/<class>/<image>)')
            [CompletionResult]::new('--val-data', '--val-data', [CompletionResultType]::ParameterName, 'Validation images, an ImageFolder with the training data''s classes (or a subset), matched by folder name')
            [CompletionResult]::new('--val-split', '--val-split', [CompletionResultType]::ParameterName, 'Hold out this fraction of each class of --data for validation (seeded by --seed)')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model to train (see `dpn info`)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model to train (see `dpn info`)')
            [CompletionResult]::new('--weights', '--weights', [CompletionResultType]::ParameterName, 'Start from these weights (any format `dpn convert` reads)')
            [CompletionResult]::new('--num-classes', '--num-classes', [CompletionResultType]::ParameterName, 'Classes of the classifier [default: the number of class folders in --data]; a classifier of another size in the starting weights is replaced')
            [CompletionResult]::new('--epochs', '--epochs', [CompletionResultType]::ParameterName, 'Epochs to train [default: 10]')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Images per batch [default: 64]')
            [CompletionResult]::new('--batch-size', '--batch-size', [CompletionResultType]::ParameterName, 'Images per batch [default: 64]')
            [CompletionResult]::new('--lr', '--lr', [CompletionResultType]::ParameterName, 'Peak learning rate [default: the registry''s, scaled by batch size]')
            [CompletionResult]::new('--momentum', '--momentum', [CompletionResultType]::ParameterName, 'SGD momentum [default: 0.9]')
            [CompletionResult]::new('--weight-decay', '--weight-decay', [CompletionResultType]::ParameterName, 'Weight decay of convolution weights (none on BatchNorm and biases) [default: 1e-4]')
            [CompletionResult]::new('--label-smoothing', '--label-smoothing', [CompletionResultType]::ParameterName, 'Label smoothing of the cross-entropy loss [default: 0.1]')
            [CompletionResult]::new('--img-size', '--img-size', [CompletionResultType]::ParameterName, 'Input side in pixels [default: the model''s, 224]')
            [CompletionResult]::new('--crop-pct', '--crop-pct', [CompletionResultType]::ParameterName, 'Validation crop fraction [default: the model''s]')
            [CompletionResult]::new('--amp', '--amp', [CompletionResultType]::ParameterName, 'Mixed precision: bf16 (the default when given alone) or f16 (with loss scaling; CUDA only)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'auto, cpu, cuda or cuda:N [default: auto]')
            [CompletionResult]::new('--device', '--device', [CompletionResultType]::ParameterName, 'auto, cpu, cuda or cuda:N [default: auto]')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Seed of initialization, data order, augmentation and --val-split [default: 42]')
            [CompletionResult]::new('--workers', '--workers', [CompletionResultType]::ParameterName, 'Image decoding threads, at most 4 per core [default: 2]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where metrics and checkpoints go [default: output/train/<model>-<UTC time>; with --resume, the run''s own folder]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where metrics and checkpoints go [default: output/train/<model>-<UTC time>; with --resume, the run''s own folder]')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Continue a run: its output folder, a checkpoint folder, or a file in one')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Format of the per-epoch summary printed at the end')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Format of the per-epoch summary printed at the end')
            [CompletionResult]::new('--dist-timeout', '--dist-timeout', [CompletionResultType]::ParameterName, 'Distributed runs: seconds to wait for the other ranks (at the rendezvous and at every collective) before a rank gives up with an error')
            [CompletionResult]::new('--dist-bn', '--dist-bn', [CompletionResultType]::ParameterName, 'Distributed runs: BatchNorm running statistics at the end of each epoch (timm''s --dist-bn): averaged over the ranks, rank 0''s, or left per rank')
            [CompletionResult]::new('--dist-backend', '--dist-backend', [CompletionResultType]::ParameterName, 'Distributed runs: the collective library, by default NCCL on CUDA and Gloo on the CPU; given explicitly, a launcher''s world of one joins it too')
            [CompletionResult]::new('--scale', '--scale', [CompletionResultType]::ParameterName, 'RandomResizedCrop''s area range [default: 0.08 1.0]')
            [CompletionResult]::new('--ratio', '--ratio', [CompletionResultType]::ParameterName, 'RandomResizedCrop''s aspect-ratio range [default: 0.75 1.3333]')
            [CompletionResult]::new('--hflip', '--hflip', [CompletionResultType]::ParameterName, 'Probability of a horizontal flip [default: 0.5]')
            [CompletionResult]::new('--reprob', '--reprob', [CompletionResultType]::ParameterName, 'Random erasing: probability that an image gets erased boxes (timm''s RandomErasing, on the normalized image) [default: 0.0]')
            [CompletionResult]::new('--remode', '--remode', [CompletionResultType]::ParameterName, 'Random erasing''s fill: const (zeros), rand (a normal value per channel) or pixel (a normal value per pixel and channel) [default: pixel]')
            [CompletionResult]::new('--recount', '--recount', [CompletionResultType]::ParameterName, 'Random erasing: an erased image gets 1 to N boxes, their areas scaled by 1 / the number [default: 1]')
            [CompletionResult]::new('--aa', '--aa', [CompletionResultType]::ParameterName, 'AutoAugment config, as timm''s --aa: rand-m<M>-n<N>-mstd<S>-mmax<X>-inc<0|1>-p<P> (RandAugment, e.g. rand-m9-mstd0.5-inc1), augmix-m<M>-w<W>-d<D>-a<A>-b<0|1>-mstd<S> (AugMix, e.g. augmix-m3-w3) or an AutoAugment policy (original, originalr, v0, v0r, 3a; optionally -mstd<S>), applied after the crop and flip [default: none]')
            [CompletionResult]::new('--train-interpolation', '--train-interpolation', [CompletionResultType]::ParameterName, 'The crop''s filter, and --aa''s when not random: random (bilinear or bicubic per image and op), nearest, bilinear, bicubic, box, hamming or lanczos (--aa takes random, bilinear or bicubic) [default: random]')
            [CompletionResult]::new('--vflip', '--vflip', [CompletionResultType]::ParameterName, 'Vertical flip probability, after the horizontal flip (timm''s RandomVerticalFlip) [default: 0.0]')
            [CompletionResult]::new('--grayscale-prob', '--grayscale-prob', [CompletionResultType]::ParameterName, 'Probability of converting an image to grayscale, after --aa (timm''s RandomGrayscale: Pillow''s convert("L") in all three channels) [default: 0.0]')
            [CompletionResult]::new('--color-jitter', '--color-jitter', [CompletionResultType]::ParameterName, 'Colour jitter factor X: brightness, contrast and saturation each drawn in [max(0, 1 - X), 1 + X], in a random order (timm''s ColorJitter(X, X, X)), after --aa; only without --aa or with an --aa naming 3a, as timm; 0 is none (runs recorded before this flag load as 0) [default: 0.4]')
            [CompletionResult]::new('--color-jitter-prob', '--color-jitter-prob', [CompletionResultType]::ParameterName, 'Apply the colour jitter with this probability (timm''s RandomApply) [default: always]')
            [CompletionResult]::new('--gaussian-blur-prob', '--gaussian-blur-prob', [CompletionResultType]::ParameterName, 'Probability of a Gaussian blur after the grayscale step (timm''s RandomApply of torchvision''s GaussianBlur: kernel 23, sigma drawn in [0.1, 2.0]) [default: 0.0]')
            [CompletionResult]::new('--aug-splits', '--aug-splits', [CompletionResultType]::ParameterName, 'Each image gives N views: the clean crop and N - 1 copies of it through --aa, colour jitter, grayscale and blur (timm''s AugMixDataset); dpn train feeds N x --batch-size images an update, split-major; 0 is off, else at least 2 [default: 0]')
            [CompletionResult]::new('--mixup', '--mixup', [CompletionResultType]::ParameterName, 'Mixup alpha: a batch is blended with its reverse by lam ~ Beta(alpha, alpha), the targets likewise (soft targets, scored by timm''s SoftTargetCrossEntropy with --label-smoothing in them); 0 is off [default: 0.0]')
            [CompletionResult]::new('--cutmix', '--cutmix', [CompletionResultType]::ParameterName, 'CutMix alpha: a box of the reversed batch pasted in, its area 1 - lam, lam ~ Beta(alpha, alpha); 0 is off [default: 0.0]')
            [CompletionResult]::new('--cutmix-minmax', '--cutmix-minmax', [CompletionResultType]::ParameterName, 'CutMix box sides as fractions of the image, drawn in [MIN, MAX) (turns CutMix on, its alpha 1; timm''s rand_bbox_minmax)')
            [CompletionResult]::new('--mixup-prob', '--mixup-prob', [CompletionResultType]::ParameterName, 'Probability that a batch (or pair, or image: --mixup-mode) is mixed [default: 1.0]')
            [CompletionResult]::new('--mixup-switch-prob', '--mixup-switch-prob', [CompletionResultType]::ParameterName, 'Probability of CutMix rather than Mixup when both are on [default: 0.5]')
            [CompletionResult]::new('--mixup-mode', '--mixup-mode', [CompletionResultType]::ParameterName, 'How mixing parameters are drawn: batch (one for the batch), pair (one per pair of images i and n-1-i) or elem (one per image) [default: batch]')
            [CompletionResult]::new('--mixup-off-epoch', '--mixup-off-epoch', [CompletionResultType]::ParameterName, 'Stop mixing from this epoch on (counted from 0, as timm does; the targets stay smoothed); 0 is never [default: 0]')
            [CompletionResult]::new('--aug-repeats', '--aug-repeats', [CompletionResultType]::ParameterName, 'Repeated augmentation: each image this many times an epoch, the copies spread over the ranks (timm''s RepeatAugSampler); 0 is off [default: 0]')
            [CompletionResult]::new('--sched', '--sched', [CompletionResultType]::ParameterName, 'Learning-rate schedule, timm''s (constant: --lr after the warmup) [default: cosine]')
            [CompletionResult]::new('--warmup-epochs', '--warmup-epochs', [CompletionResultType]::ParameterName, 'Epochs of linear warmup from --warmup-lr [default: 0]')
            [CompletionResult]::new('--warmup-lr', '--warmup-lr', [CompletionResultType]::ParameterName, 'Learning rate the warmup starts from [default: 1e-5]')
            [CompletionResult]::new('--min-lr', '--min-lr', [CompletionResultType]::ParameterName, 'Lowest learning rate: cosine, poly and tanh end there, plateau stops at it [default: 0]')
            [CompletionResult]::new('--decay-epochs', '--decay-epochs', [CompletionResultType]::ParameterName, 'Step schedule: epochs between decays, fractions allowed (2.4) [default: 90]')
            [CompletionResult]::new('--decay-milestones', '--decay-milestones', [CompletionResultType]::ParameterName, 'Multistep schedule: epochs of the decays (ascending; commas or spaces) [default: 90 180 270]')
            [CompletionResult]::new('--decay-rate', '--decay-rate', [CompletionResultType]::ParameterName, 'Factor of each decay (step, multistep, plateau); poly''s power [default: 0.1]')
            [CompletionResult]::new('--cooldown-epochs', '--cooldown-epochs', [CompletionResultType]::ParameterName, 'Epochs at --min-lr after the cosine, poly or tanh cycles, added to --epochs [default: 0]')
            [CompletionResult]::new('--patience-epochs', '--patience-epochs', [CompletionResultType]::ParameterName, 'Plateau schedule: epochs without a better validation top-1 before a decay [default: 10]')
            [CompletionResult]::new('--lr-cycle-mul', '--lr-cycle-mul', [CompletionResultType]::ParameterName, 'Cosine/poly/tanh: each cycle''s length over the one before [default: 1]')
            [CompletionResult]::new('--lr-cycle-decay', '--lr-cycle-decay', [CompletionResultType]::ParameterName, 'Cosine/poly/tanh: each cycle''s peak over the one before [default: 0.5]')
            [CompletionResult]::new('--lr-cycle-limit', '--lr-cycle-limit', [CompletionResultType]::ParameterName, 'Cosine/poly/tanh: cycles (their epochs are added to the run) [default: 1]')
            [CompletionResult]::new('--lr-k-decay', '--lr-k-decay', [CompletionResultType]::ParameterName, 'Cosine/poly: k-decay exponent of the schedule''s time [default: 1]')
            [CompletionResult]::new('--lr-noise', '--lr-noise', [CompletionResultType]::ParameterName, 'Noise the learning rate from this fraction of --epochs (or in [START, END)), drawn as timm does from --seed')
            [CompletionResult]::new('--lr-noise-pct', '--lr-noise-pct', [CompletionResultType]::ParameterName, 'Bound of the learning-rate noise, a fraction of the rate [default: 0.67]')
            [CompletionResult]::new('--lr-noise-std', '--lr-noise-std', [CompletionResultType]::ParameterName, 'Recorded as timm''s --lr-noise-std (timm''s draw does not read it) [default: 1]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour stderr and tables')
            [CompletionResult]::new('--model-index', '--model-index', [CompletionResultType]::ParameterName, 'Model-index YAML file whose models add to or replace the built-in ones')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for cached weights')
            [CompletionResult]::new('--pretrained', '--pretrained', [CompletionResultType]::ParameterName, 'Start from the model''s pretrained weights in the cache (`dpn fetch MODEL`)')
            [CompletionResult]::new('--nesterov', '--nesterov', [CompletionResultType]::ParameterName, 'Nesterov momentum (timm''s `--opt sgd`); plain momentum without it (`--opt momentum`)')
            [CompletionResult]::new('--channels-last', '--channels-last', [CompletionResultType]::ParameterName, 'Train in channels-last (NHWC) memory format')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Stop at the first unreadable image instead of skipping it')
            [CompletionResult]::new('--sync-bn', '--sync-bn', [CompletionResultType]::ParameterName, 'Distributed runs: BatchNorm statistics over every process''s batch together (SyncBatchNorm); costs an all-reduce per BatchNorm in each forward and backward pass')
            [CompletionResult]::new('--resplit', '--resplit', [CompletionResultType]::ParameterName, 'Accepted as timm''s train.py accepts it, recorded, and without effect: it leaves the first half of each batch unerased only in timm''s CUDA prefetcher; dpn erases per image, as train.py --no-prefetcher does')
            [CompletionResult]::new('--jsd-loss', '--jsd-loss', [CompletionResultType]::ParameterName, 'Jensen-Shannon divergence + cross-entropy over the --aug-splits views (timm''s JsdCrossEntropy, alpha 12, --label-smoothing on the clean view)')
            [CompletionResult]::new('--sched-on-updates', '--sched-on-updates', [CompletionResultType]::ParameterName, 'Step the schedule after every update (epochs counted in updates) instead of at epoch ends, as timm''s --sched-on-updates')
            [CompletionResult]::new('--warmup-prefix', '--warmup-prefix', [CompletionResultType]::ParameterName, 'The schedule starts after the warmup (which adds --warmup-epochs to the run) instead of counting it')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dpn;export' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model to run (default: the one a --weights file records)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model to run (default: the one a --weights file records)')
            [CompletionResult]::new('--weights', '--weights', [CompletionResultType]::ParameterName, 'Weights file (any format `dpn convert` reads); default: the cached weights of --model')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Batch dimension: `dynamic` (any size at run time) or a fixed size N (1 to 65536)')
            [CompletionResult]::new('--batch-size', '--batch-size', [CompletionResultType]::ParameterName, 'Batch dimension: `dynamic` (any size at run time) or a fixed size N (1 to 65536)')
            [CompletionResult]::new('--dtype', '--dtype', [CompletionResultType]::ParameterName, 'Floating-point type of the input, outputs and weights: f32, f16 or bf16')
            [CompletionResult]::new('--img-size', '--img-size', [CompletionResultType]::ParameterName, 'Input size (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('--crop-pct', '--crop-pct', [CompletionResultType]::ParameterName, 'Center-crop fraction (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('--interpolation', '--interpolation', [CompletionResultType]::ParameterName, 'Resize filter: bicubic, bilinear, nearest, lanczos, box or hamming (default: the one the weights record, else the model''s)')
            [CompletionResult]::new('--labels', '--labels', [CompletionResultType]::ParameterName, 'Class names to record, one per line (`name` or `synset<TAB>name`); default: the weights'' own, else ImageNet-1k''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour stderr and tables')
            [CompletionResult]::new('--model-index', '--model-index', [CompletionResultType]::ParameterName, 'Model-index YAML file whose models add to or replace the built-in ones')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for cached weights')
            [CompletionResult]::new('--reject-non-finite', '--reject-non-finite', [CompletionResultType]::ParameterName, 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning')
            [CompletionResult]::new('--fold-bn', '--fold-bn', [CompletionResultType]::ParameterName, 'Fold each BatchNorm that directly follows a convolution into it (a smaller, faster graph; the other BatchNorms stay)')
            [CompletionResult]::new('--features', '--features', [CompletionResultType]::ParameterName, 'Add a second output, `features`: the pooled embedding before the classifier')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dpn;augment' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Folder the augmented PNGs go to (made if missing)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Folder the augmented PNGs go to (made if missing)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Versions of each image (epochs 0 to K - 1)')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Versions of each image (epochs 0 to K - 1)')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Seed, as `dpn train --seed`')
            [CompletionResult]::new('--grid', '--grid', [CompletionResultType]::ParameterName, 'Also write a contact sheet: a row per image, a column per version')
            [CompletionResult]::new('--explain', '--explain', [CompletionResultType]::ParameterName, 'Write each output''s steps as JSON Lines to FILE, or - for stdout')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model whose mean, std and input size the transform uses (see `dpn info`)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model whose mean, std and input size the transform uses (see `dpn info`)')
            [CompletionResult]::new('--weights', '--weights', [CompletionResultType]::ParameterName, 'A weights file converted or trained by dpn: its recorded model and preprocessing')
            [CompletionResult]::new('--img-size', '--img-size', [CompletionResultType]::ParameterName, 'Output side in pixels [default: the model''s, or the weights'' recorded one]')
            [CompletionResult]::new('--scale', '--scale', [CompletionResultType]::ParameterName, 'RandomResizedCrop''s area range [default: 0.08 1.0]')
            [CompletionResult]::new('--ratio', '--ratio', [CompletionResultType]::ParameterName, 'RandomResizedCrop''s aspect-ratio range [default: 0.75 1.3333]')
            [CompletionResult]::new('--hflip', '--hflip', [CompletionResultType]::ParameterName, 'Probability of a horizontal flip [default: 0.5]')
            [CompletionResult]::new('--reprob', '--reprob', [CompletionResultType]::ParameterName, 'Random erasing: probability that an image gets erased boxes (timm''s RandomErasing, on the normalized image) [default: 0.0]')
            [CompletionResult]::new('--remode', '--remode', [CompletionResultType]::ParameterName, 'Random erasing''s fill: const (zeros), rand (a normal value per channel) or pixel (a normal value per pixel and channel) [default: pixel]')
            [CompletionResult]::new('--recount', '--recount', [CompletionResultType]::ParameterName, 'Random erasing: an erased image gets 1 to N boxes, their areas scaled by 1 / the number [default: 1]')
            [CompletionResult]::new('--aa', '--aa', [CompletionResultType]::ParameterName, 'AutoAugment config, as timm''s --aa: rand-m<M>-n<N>-mstd<S>-mmax<X>-inc<0|1>-p<P> (RandAugment, e.g. rand-m9-mstd0.5-inc1), augmix-m<M>-w<W>-d<D>-a<A>-b<0|1>-mstd<S> (AugMix, e.g. augmix-m3-w3) or an AutoAugment policy (original, originalr, v0, v0r, 3a; optionally -mstd<S>), applied after the crop and flip [default: none]')
            [CompletionResult]::new('--train-interpolation', '--train-interpolation', [CompletionResultType]::ParameterName, 'The crop''s filter, and --aa''s when not random: random (bilinear or bicubic per image and op), nearest, bilinear, bicubic, box, hamming or lanczos (--aa takes random, bilinear or bicubic) [default: random]')
            [CompletionResult]::new('--vflip', '--vflip', [CompletionResultType]::ParameterName, 'Vertical flip probability, after the horizontal flip (timm''s RandomVerticalFlip) [default: 0.0]')
            [CompletionResult]::new('--grayscale-prob', '--grayscale-prob', [CompletionResultType]::ParameterName, 'Probability of converting an image to grayscale, after --aa (timm''s RandomGrayscale: Pillow''s convert("L") in all three channels) [default: 0.0]')
            [CompletionResult]::new('--color-jitter', '--color-jitter', [CompletionResultType]::ParameterName, 'Colour jitter factor X: brightness, contrast and saturation each drawn in [max(0, 1 - X), 1 + X], in a random order (timm''s ColorJitter(X, X, X)), after --aa; only without --aa or with an --aa naming 3a, as timm; 0 is none (runs recorded before this flag load as 0) [default: 0.4]')
            [CompletionResult]::new('--color-jitter-prob', '--color-jitter-prob', [CompletionResultType]::ParameterName, 'Apply the colour jitter with this probability (timm''s RandomApply) [default: always]')
            [CompletionResult]::new('--gaussian-blur-prob', '--gaussian-blur-prob', [CompletionResultType]::ParameterName, 'Probability of a Gaussian blur after the grayscale step (timm''s RandomApply of torchvision''s GaussianBlur: kernel 23, sigma drawn in [0.1, 2.0]) [default: 0.0]')
            [CompletionResult]::new('--aug-splits', '--aug-splits', [CompletionResultType]::ParameterName, 'Each image gives N views: the clean crop and N - 1 copies of it through --aa, colour jitter, grayscale and blur (timm''s AugMixDataset); dpn train feeds N x --batch-size images an update, split-major; 0 is off, else at least 2 [default: 0]')
            [CompletionResult]::new('--mixup', '--mixup', [CompletionResultType]::ParameterName, 'Mixup alpha: a batch is blended with its reverse by lam ~ Beta(alpha, alpha), the targets likewise (soft targets, scored by timm''s SoftTargetCrossEntropy with --label-smoothing in them); 0 is off [default: 0.0]')
            [CompletionResult]::new('--cutmix', '--cutmix', [CompletionResultType]::ParameterName, 'CutMix alpha: a box of the reversed batch pasted in, its area 1 - lam, lam ~ Beta(alpha, alpha); 0 is off [default: 0.0]')
            [CompletionResult]::new('--cutmix-minmax', '--cutmix-minmax', [CompletionResultType]::ParameterName, 'CutMix box sides as fractions of the image, drawn in [MIN, MAX) (turns CutMix on, its alpha 1; timm''s rand_bbox_minmax)')
            [CompletionResult]::new('--mixup-prob', '--mixup-prob', [CompletionResultType]::ParameterName, 'Probability that a batch (or pair, or image: --mixup-mode) is mixed [default: 1.0]')
            [CompletionResult]::new('--mixup-switch-prob', '--mixup-switch-prob', [CompletionResultType]::ParameterName, 'Probability of CutMix rather than Mixup when both are on [default: 0.5]')
            [CompletionResult]::new('--mixup-mode', '--mixup-mode', [CompletionResultType]::ParameterName, 'How mixing parameters are drawn: batch (one for the batch), pair (one per pair of images i and n-1-i) or elem (one per image) [default: batch]')
            [CompletionResult]::new('--mixup-off-epoch', '--mixup-off-epoch', [CompletionResultType]::ParameterName, 'Stop mixing from this epoch on (counted from 0, as timm does; the targets stay smoothed); 0 is never [default: 0]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour stderr and tables')
            [CompletionResult]::new('--model-index', '--model-index', [CompletionResultType]::ParameterName, 'Model-index YAML file whose models add to or replace the built-in ones')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for cached weights')
            [CompletionResult]::new('--resplit', '--resplit', [CompletionResultType]::ParameterName, 'Accepted as timm''s train.py accepts it, recorded, and without effect: it leaves the first half of each batch unerased only in timm''s CUDA prefetcher; dpn erases per image, as train.py --no-prefetcher does')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dpn;help' {
            [CompletionResult]::new('info', 'info', [CompletionResultType]::ParameterValue, 'Show the registry''s models: architecture, published figures, preprocessing, cache state')
            [CompletionResult]::new('convert', 'convert', [CompletionResultType]::ParameterValue, 'Convert weights (.pth of any era, safetensors) to timm-named safetensors, validated')
            [CompletionResult]::new('predict', 'predict', [CompletionResultType]::ParameterValue, 'Classify images: top-k classes per image, streamed; optional embeddings')
            [CompletionResult]::new('evaluate', 'evaluate', [CompletionResultType]::ParameterValue, 'Top-1/top-5 and loss on a labelled image set, beside the published figures')
            [CompletionResult]::new('profile', 'profile', [CompletionResultType]::ParameterValue, 'Parameters, MACs, file size, peak memory and speed of models, beside the published figures')
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Download, verify and convert pretrained weights into the cache; list, verify or clean it')
            [CompletionResult]::new('train', 'train', [CompletionResultType]::ParameterValue, 'Train or fine-tune a DPN on an image folder (timm''s recipe), with exact resume')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write a model as an ONNX graph (onnxruntime, TensorRT), checked after writing')
            [CompletionResult]::new('augment', 'augment', [CompletionResultType]::ParameterValue, 'Show the training augmentation: the images `dpn train` would feed, and every random step')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'dpn;help;info' {
            break
        }
        'dpn;help;convert' {
            break
        }
        'dpn;help;predict' {
            break
        }
        'dpn;help;evaluate' {
            break
        }
        'dpn;help;profile' {
            break
        }
        'dpn;help;fetch' {
            break
        }
        'dpn;help;train' {
            break
        }
        'dpn;help;export' {
            break
        }
        'dpn;help;augment' {
            break
        }
        'dpn;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
