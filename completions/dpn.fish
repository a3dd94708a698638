# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_dpn_global_optspecs
    string join \n q/quiet v/verbose color= model-index= cache-dir= V/version h/help
end

function __fish_dpn_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_dpn_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_dpn_using_subcommand
    set -l cmd (__fish_dpn_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c dpn -n "__fish_dpn_needs_command" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_needs_command" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_needs_command" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_needs_command" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_needs_command" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_needs_command" -s V -l version -d 'Print the version, the libtorch it runs on and whether CUDA is usable'
complete -c dpn -n "__fish_dpn_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "info" -d 'Show the registry\'s models: architecture, published figures, preprocessing, cache state'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "convert" -d 'Convert weights (.pth of any era, safetensors) to timm-named safetensors, validated'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "predict" -d 'Classify images: top-k classes per image, streamed; optional embeddings'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "evaluate" -d 'Top-1/top-5 and loss on a labelled image set, beside the published figures'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "eval" -d 'Top-1/top-5 and loss on a labelled image set, beside the published figures'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "profile" -d 'Parameters, MACs, file size, peak memory and speed of models, beside the published figures'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "fetch" -d 'Download, verify and convert pretrained weights into the cache; list, verify or clean it'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "train" -d 'Train or fine-tune a DPN on an image folder (timm\'s recipe), with exact resume'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "average" -d 'Average checkpoints\' weights (timm\'s avg_checkpoints.py): a run\'s best, or given files'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "export" -d 'Write a model as an ONNX graph (onnxruntime, TensorRT), checked after writing'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "augment" -d 'Show the training augmentation: the images `dpn train` would feed, and every random step'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "report" -d 'Write a self-contained HTML page of training runs: curves, best epoch, settings side by side'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c dpn -n "__fish_dpn_using_subcommand info" -s f -l format -d 'Output format' -r -f -a "table\t'Aligned columns with human units, for people'
csv\t'Comma-separated, exact values, one header row'
json\t'A JSON array of objects with exact values'
yaml\t'A YAML list of mappings with exact values'
markdown\t'A GitHub-flavoured Markdown table with human units'"
complete -c dpn -n "__fish_dpn_using_subcommand info" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand info" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand info" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand info" -l all -d 'One summary row for every model (the default without MODEL)'
complete -c dpn -n "__fish_dpn_using_subcommand info" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand info" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand info" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dpn -n "__fish_dpn_using_subcommand convert" -s m -l model -d 'Model the weights are for (default: inferred from the tensor shapes)' -r
complete -c dpn -n "__fish_dpn_using_subcommand convert" -l dtype -d 'Floating-point type of the output: f32, f16 or bf16' -r
complete -c dpn -n "__fish_dpn_using_subcommand convert" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand convert" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand convert" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand convert" -l reject-non-finite -d 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning'
complete -c dpn -n "__fish_dpn_using_subcommand convert" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand convert" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand convert" -s h -l help -d 'Print help'
complete -c dpn -n "__fish_dpn_using_subcommand predict" -s m -l model -d 'Model to run (default: the one a --weights file records)' -r
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l weights -d 'Weights file (any format `dpn convert` reads); default: the cached weights of --model' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand predict" -s k -l top-k -d 'Classes per image' -r
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l labels -d 'Class names, one per line (`name` or `synset<TAB>name`); default: the weights\' own, else ImageNet-1k\'s' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l features -d 'Also write pooled pre-logit embeddings (.safetensors or .npy) keyed by path; with --shard, `{rank}` in FILE becomes the shard\'s index' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand predict" -s b -l batch-size -d 'Images per batch' -r
complete -c dpn -n "__fish_dpn_using_subcommand predict" -s d -l device -d 'auto, cpu, cuda or cuda:N' -r
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l dtype -d 'Compute precision: f32, bf16 or f16 (f16 on CUDA only)' -r
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l workers -d 'Image decoding threads (default: one per core; at most 4 per core)' -r
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l shard -d 'Take shard I of N of the inputs; `auto`: the Slurm array\'s (SLURM_ARRAY_TASK_*) or RANK/WORLD_SIZE (default: all inputs; see docs/distributed.md under a launcher)' -r
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l img-size -d 'Input size (default: the one the weights record, else the model\'s)' -r
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l crop-pct -d 'Center-crop fraction (default: the one the weights record, else the model\'s)' -r
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l interpolation -d 'Resize filter: bicubic, bilinear, nearest, lanczos, box or hamming (default: the one the weights record, else the model\'s)' -r -f -a "bicubic\t''
bilinear\t''
nearest\t''
lanczos\t''
box\t''
hamming\t''"
complete -c dpn -n "__fish_dpn_using_subcommand predict" -s f -l format -d 'Output format' -r -f -a "table\t'A block per image, for people'
csv\t'One row per image and rank'
json\t'A JSON array, one object per image (streamed)'
jsonl\t'One JSON object per line per image'"
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l reject-non-finite -d 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning'
complete -c dpn -n "__fish_dpn_using_subcommand predict" -s 0 -l null -d 'Paths on stdin (`-`) end in NUL bytes instead of newlines (as `xargs -0`)'
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l channels-last -d 'Run in channels-last (NHWC) memory format'
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l exact -d 'Run the exact network (bit for bit timm\'s) instead of the faster one with BatchNorms folded into the convolutions (the default on the CPU in f32 and bf16)'
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l folded -d 'Run the folded network also where it is not the default (CUDA, f16), e.g. to measure it against --exact there'
complete -c dpn -n "__fish_dpn_using_subcommand predict" -l no-retry -d 'On out of memory, stop (exit 8) instead of retrying at half the batch size'
complete -c dpn -n "__fish_dpn_using_subcommand predict" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand predict" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand predict" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l data -d 'Image folder (ImageFolder tree, or the root that --labels-file paths are relative to)' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l labels-file -d 'Labels as `path,label` CSV or `path label` lines, instead of class folders' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l labels -d 'Class names of the model\'s outputs, one per line (`name` or `synset<TAB>name`); default: the weights\' own' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -s m -l model -d 'Model to run (default: the one a --weights file records)' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l weights -d 'Weights file (any format `dpn convert` reads); default: the cached weights of --model' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -s b -l batch-size -d 'Images per batch' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -s d -l device -d 'auto, cpu, cuda or cuda:N' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l dtype -d 'Compute precision: f32, bf16 or f16 (f16 on CUDA only)' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l workers -d 'Image decoding threads (default: one per core; at most 4 per core)' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l shard -d 'Take shard I of N of the inputs; `auto`: the Slurm array\'s (SLURM_ARRAY_TASK_*) or RANK/WORLD_SIZE (default: all inputs; see docs/distributed.md under a launcher)' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l img-size -d 'Input size (default: the one the weights record, else the model\'s)' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l crop-pct -d 'Center-crop fraction (default: the one the weights record, else the model\'s)' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l interpolation -d 'Resize filter: bicubic, bilinear, nearest, lanczos, box or hamming (default: the one the weights record, else the model\'s)' -r -f -a "bicubic\t''
bilinear\t''
nearest\t''
lanczos\t''
box\t''
hamming\t''"
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l amp -d 'Mixed precision on CUDA: bf16 (default) or f16 (same as --dtype)' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l limit -d 'Evaluate only the first N images (after sharding)' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l results-file -d 'Write the result (and the exact counts needed by --merge) to FILE (.json or .csv); with --shard, `{rank}` in FILE becomes the shard\'s index' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l per-class -d 'Write per-class accuracy to FILE (CSV); with --shard, `{rank}` in FILE becomes the shard\'s index' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l merge -d 'Combine the JSON results files of shards into the whole set\'s result' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -s f -l format -d 'Output format of the summary' -r -f -a "table\t'Aligned columns with human units, for people'
csv\t'Comma-separated, exact values, one header row'
json\t'A JSON array of objects with exact values'
yaml\t'A YAML list of mappings with exact values'
markdown\t'A GitHub-flavoured Markdown table with human units'"
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l dist-timeout -d 'Under torchrun or srun: seconds to wait for the other ranks before giving up' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l report -d 'Write a self-contained HTML report to FILE.html: per-class accuracy, confusions, calibration, the most confident mistakes; with --shard, `{rank}` in FILE becomes the shard\'s index' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l report-errors -d 'How many of the most confident mistakes the report shows, with thumbnails (0 to 1000)' -r
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l reject-non-finite -d 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning'
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l channels-last -d 'Run in channels-last (NHWC) memory format'
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l exact -d 'Run the exact network (bit for bit timm\'s) instead of the faster one with BatchNorms folded into the convolutions (the default on the CPU in f32 and bf16)'
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l folded -d 'Run the folded network also where it is not the default (CUDA, f16), e.g. to measure it against --exact there'
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -l no-retry -d 'On out of memory, stop (exit 8) instead of retrying at half the batch size'
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand evaluate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l data -d 'Image folder (ImageFolder tree, or the root that --labels-file paths are relative to)' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l labels-file -d 'Labels as `path,label` CSV or `path label` lines, instead of class folders' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l labels -d 'Class names of the model\'s outputs, one per line (`name` or `synset<TAB>name`); default: the weights\' own' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand eval" -s m -l model -d 'Model to run (default: the one a --weights file records)' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l weights -d 'Weights file (any format `dpn convert` reads); default: the cached weights of --model' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand eval" -s b -l batch-size -d 'Images per batch' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -s d -l device -d 'auto, cpu, cuda or cuda:N' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l dtype -d 'Compute precision: f32, bf16 or f16 (f16 on CUDA only)' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l workers -d 'Image decoding threads (default: one per core; at most 4 per core)' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l shard -d 'Take shard I of N of the inputs; `auto`: the Slurm array\'s (SLURM_ARRAY_TASK_*) or RANK/WORLD_SIZE (default: all inputs; see docs/distributed.md under a launcher)' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l img-size -d 'Input size (default: the one the weights record, else the model\'s)' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l crop-pct -d 'Center-crop fraction (default: the one the weights record, else the model\'s)' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l interpolation -d 'Resize filter: bicubic, bilinear, nearest, lanczos, box or hamming (default: the one the weights record, else the model\'s)' -r -f -a "bicubic\t''
bilinear\t''
nearest\t''
lanczos\t''
box\t''
hamming\t''"
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l amp -d 'Mixed precision on CUDA: bf16 (default) or f16 (same as --dtype)' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l limit -d 'Evaluate only the first N images (after sharding)' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l results-file -d 'Write the result (and the exact counts needed by --merge) to FILE (.json or .csv); with --shard, `{rank}` in FILE becomes the shard\'s index' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l per-class -d 'Write per-class accuracy to FILE (CSV); with --shard, `{rank}` in FILE becomes the shard\'s index' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l merge -d 'Combine the JSON results files of shards into the whole set\'s result' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand eval" -s f -l format -d 'Output format of the summary' -r -f -a "table\t'Aligned columns with human units, for people'
csv\t'Comma-separated, exact values, one header row'
json\t'A JSON array of objects with exact values'
yaml\t'A YAML list of mappings with exact values'
markdown\t'A GitHub-flavoured Markdown table with human units'"
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l dist-timeout -d 'Under torchrun or srun: seconds to wait for the other ranks before giving up' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l report -d 'Write a self-contained HTML report to FILE.html: per-class accuracy, confusions, calibration, the most confident mistakes; with --shard, `{rank}` in FILE becomes the shard\'s index' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l report-errors -d 'How many of the most confident mistakes the report shows, with thumbnails (0 to 1000)' -r
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l reject-non-finite -d 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning'
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l channels-last -d 'Run in channels-last (NHWC) memory format'
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l exact -d 'Run the exact network (bit for bit timm\'s) instead of the faster one with BatchNorms folded into the convolutions (the default on the CPU in f32 and bf16)'
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l folded -d 'Run the folded network also where it is not the default (CUDA, f16), e.g. to measure it against --exact there'
complete -c dpn -n "__fish_dpn_using_subcommand eval" -l no-retry -d 'On out of memory, stop (exit 8) instead of retrying at half the batch size'
complete -c dpn -n "__fish_dpn_using_subcommand eval" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand eval" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand eval" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l img-size -d 'Input side in pixels (default: the one --weights records, else each model\'s registry image size)' -r
complete -c dpn -n "__fish_dpn_using_subcommand profile" -s b -l batch-size -d 'Images per timed batch' -r
complete -c dpn -n "__fish_dpn_using_subcommand profile" -s d -l device -d 'auto, cpu, cuda or cuda:N' -r
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l dtype -d 'Compute precision: f32, bf16 or f16 (f16 on CUDA only)' -r
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l warmup -d 'Untimed batches before timing' -r
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l iters -d 'Timed batches (0: analytic figures only)' -r
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l weights -d 'Time with these weights (any format `dpn convert` reads) instead of random ones, and report how long loading them took; needs exactly one MODEL' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand profile" -s f -l format -d 'Output format' -r -f -a "table\t'Aligned columns with human units, for people'
csv\t'Comma-separated, exact values, one header row'
json\t'A JSON array of objects with exact values'
yaml\t'A YAML list of mappings with exact values'
markdown\t'A GitHub-flavoured Markdown table with human units'"
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l report -d 'Also write a self-contained HTML page to FILE.html: MACs, parameters and activations per stage, the latency distribution, memory, beside the published figures' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l all -d 'Profile every model in the registry'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l channels-last -d 'Run in channels-last (NHWC) memory format'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l exact -d 'Run the exact network (bit for bit timm\'s) instead of the faster one with BatchNorms folded into the convolutions (the default on the CPU in f32 and bf16)'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l folded -d 'Run the folded network also where it is not the default (CUDA, f16), e.g. to measure it against --exact there'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l reject-non-finite -d 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l by-stage -d 'MACs and activations per stage (stem, conv2..conv5, head) instead of the summary'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l no-retry -d 'On out of memory, stop (exit 8) instead of timing at half the batch size'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l cuda-graph -d 'CUDA: record the forward pass once as a CUDA graph and time its replays (one launch per batch instead of one per kernel; the batch size is fixed)'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l source -d 'Where to fetch from' -r -f -a "url\t'The URL the registry names (or the same file name under --mirror)'
hf\t'model.safetensors of the model\'s hub id, in the Hugging Face cache'"
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l mirror -d 'Base URL or directory (file:// or a plain path) holding the same file names' -r
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l timeout -d 'Connect and read timeout, in seconds' -r
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l retries -d 'Retries after a transient failure (timeout, lost connection, HTTP 5xx or 429)' -r
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -s f -l format -d 'Output format of the result table' -r -f -a "table\t'Aligned columns with human units, for people'
csv\t'Comma-separated, exact values, one header row'
json\t'A JSON array of objects with exact values'
yaml\t'A YAML list of mappings with exact values'
markdown\t'A GitHub-flavoured Markdown table with human units'"
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l all -d 'Every model that has weights (with --clean: everything in the cache)'
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l force -d 'Download again even when a verified file is cached'
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l offline -d 'Never touch the network; fail at once when a file is not cached'
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l list -d 'List cached weights (of MODELs, or of every model)'
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l verify -d 'Re-check cached files against their digests (exit code 4 on a mismatch)'
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -l clean -d 'Remove cached files of MODELs (or, with --all, everything under the cache\'s weights/)'
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand fetch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dpn -n "__fish_dpn_using_subcommand train" -s c -l config -d 'timm\'s args.yaml (train.py\'s -c): its keys as the options they mean in timm, timm\'s defaults for the keys it leaves out; options given here win (README: timm\'s train.py arguments)' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand train" -l data -d 'Training images: an ImageFolder (DIR/<class>/<image>)' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand train" -l val-data -d 'Validation images, an ImageFolder with the training data\'s classes (or a subset), matched by folder name' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand train" -l val-split -d 'Hold out this fraction of each class of --data for validation (seeded by --seed)' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -s b -l batch-size -d 'Images per batch [default: 64]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l img-size -d 'Input side in pixels [default: the model\'s, 224]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l crop-pct -d 'Validation crop fraction [default: the model\'s]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l workers -d 'Image decoding threads, at most 4 per core [default: 2]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l seed -d 'Seed of initialization, data order, augmentation and --val-split [default: 42]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -s m -l model -d 'Model to train (see `dpn info`)' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l weights -d 'Start from these weights (any format `dpn convert` reads)' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand train" -l num-classes -d 'Classes of the classifier [default: the number of class folders in --data]; a classifier of another size in the starting weights is replaced' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -s d -l device -d 'auto, cpu, cuda or cuda:N [default: auto]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l amp -d 'Mixed precision: bf16 (the default when given alone) or f16 (with loss scaling; CUDA only)' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l lr -d 'Peak learning rate [default: the registry\'s, scaled by batch size]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l momentum -d 'SGD momentum [default: 0.9]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l opt -d 'Optimizer, by timm\'s name: sgd (Nesterov momentum), momentum, rmsprop, rmsproptf, adam, adamw, nadam, radam, lamb, lars, lion, adafactor [default: momentum, the seed recipe\'s SGD with momentum 0.9; timm\'s default is sgd]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l opt-eps -d 'Optimizer epsilon [default: the optimizer\'s own, as timm]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l opt-betas -d 'Optimizer betas [default: the optimizer\'s own, as timm]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l layer-decay -d 'Layer-wise LR decay (timm\'s param_groups_layer_decay over the DPN\'s blocks)' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l layer-decay-min-scale -d 'With --layer-decay: the smallest LR scale a layer gets [default: 0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l layer-decay-no-opt-scale -d 'With --layer-decay: freeze the layers whose LR scale is below F (timm\'s requires_grad=False)' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l lr-base -d 'Without --lr: LR = LR_BASE * global batch / --lr-base-size (timm\'s rule) [default: 0.1]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l lr-base-size -d 'Without --lr: the batch size --lr-base is for [default: 256]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l lr-base-scale -d 'Without --lr: linear or sqrt scaling of --lr-base by the batch ratio [default: sqrt for optimizers whose name has "ada" or "lamb", else linear, as timm]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l weight-decay -d 'Weight decay of convolution weights (none on BatchNorm and biases) [default: 1e-4]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l epochs -d 'Epochs to train [default: 10]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l sched -d 'Learning-rate schedule, timm\'s (constant: --lr after the warmup) [default: cosine]' -r -f -a "cosine\t''
step\t''
multistep\t''
plateau\t''
poly\t''
tanh\t''
constant\t''"
complete -c dpn -n "__fish_dpn_using_subcommand train" -l warmup-epochs -d 'Epochs of linear warmup from --warmup-lr [default: 0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l warmup-lr -d 'Learning rate the warmup starts from [default: 1e-5]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l min-lr -d 'Lowest learning rate: cosine, poly and tanh end there, plateau stops at it [default: 0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l decay-epochs -d 'Step schedule: epochs between decays, fractions allowed (2.4) [default: 90]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l decay-milestones -d 'Multistep schedule: epochs of the decays (ascending; commas or spaces) [default: 90 180 270]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l decay-rate -d 'Factor of each decay (step, multistep, plateau); poly\'s power [default: 0.1]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l cooldown-epochs -d 'Epochs at --min-lr after the cosine, poly or tanh cycles, added to --epochs [default: 0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l patience-epochs -d 'Plateau schedule: epochs without a better --eval-metric before a decay [default: 10]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l lr-cycle-mul -d 'Cosine/poly/tanh: each cycle\'s length over the one before [default: 1]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l lr-cycle-decay -d 'Cosine/poly/tanh: each cycle\'s peak over the one before [default: 0.5]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l lr-cycle-limit -d 'Cosine/poly/tanh: cycles (their epochs are added to the run) [default: 1]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l lr-k-decay -d 'Cosine/poly: k-decay exponent of the schedule\'s time [default: 1]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l lr-noise -d 'Noise the learning rate from this fraction of --epochs (or in [START, END)), drawn as timm does from --seed' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l lr-noise-pct -d 'Bound of the learning-rate noise, a fraction of the rate [default: 0.67]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l lr-noise-std -d 'Recorded as timm\'s --lr-noise-std (timm\'s draw does not read it) [default: 1]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l scale -d 'RandomResizedCrop\'s area range [default: 0.08 1.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l ratio -d 'RandomResizedCrop\'s aspect-ratio range [default: 0.75 1.3333]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l hflip -d 'Probability of a horizontal flip [default: 0.5]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l reprob -d 'Random erasing: probability that an image gets erased boxes (timm\'s RandomErasing, on the normalized image) [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l remode -d 'Random erasing\'s fill: const (zeros), rand (a normal value per channel) or pixel (a normal value per pixel and channel) [default: pixel]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l recount -d 'Random erasing: an erased image gets 1 to N boxes, their areas scaled by 1 / the number [default: 1]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l aa -d 'AutoAugment config, as timm\'s --aa: rand-m<M>-n<N>-mstd<S>-mmax<X>-inc<0|1>-p<P> (RandAugment, e.g. rand-m9-mstd0.5-inc1), augmix-m<M>-w<W>-d<D>-a<A>-b<0|1>-mstd<S> (AugMix, e.g. augmix-m3-w3) or an AutoAugment policy (original, originalr, v0, v0r, 3a; optionally -mstd<S>), applied after the crop and flip [default: none]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l train-interpolation -d 'The crop\'s filter, and --aa\'s when not random: random (bilinear or bicubic per image and op), nearest, bilinear, bicubic, box, hamming or lanczos (--aa takes random, bilinear or bicubic) [default: random]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l vflip -d 'Vertical flip probability, after the horizontal flip (timm\'s RandomVerticalFlip) [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l grayscale-prob -d 'Probability of converting an image to grayscale, after --aa (timm\'s RandomGrayscale: Pillow\'s convert("L") in all three channels) [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l color-jitter -d 'Colour jitter factor X: brightness, contrast and saturation each drawn in [max(0, 1 - X), 1 + X], in a random order (timm\'s ColorJitter(X, X, X)), after --aa; only without --aa or with an --aa naming 3a, as timm; 0 is none (runs recorded before this flag load as 0) [default: 0.4]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l color-jitter-prob -d 'Apply the colour jitter with this probability (timm\'s RandomApply) [default: always]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l gaussian-blur-prob -d 'Probability of a Gaussian blur after the grayscale step (timm\'s RandomApply of torchvision\'s GaussianBlur: kernel 23, sigma drawn in [0.1, 2.0]) [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l aug-splits -d 'Each image gives N views: the clean crop and N - 1 copies of it through --aa, colour jitter, grayscale and blur (timm\'s AugMixDataset); dpn train feeds N x --batch-size images an update, split-major; 0 is off, else at least 2 [default: 0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l mixup -d 'Mixup alpha: a batch is blended with its reverse by lam ~ Beta(alpha, alpha), the targets likewise (soft targets, scored by timm\'s SoftTargetCrossEntropy with --label-smoothing in them); 0 is off [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l cutmix -d 'CutMix alpha: a box of the reversed batch pasted in, its area 1 - lam, lam ~ Beta(alpha, alpha); 0 is off [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l cutmix-minmax -d 'CutMix box sides as fractions of the image, drawn in [MIN, MAX) (turns CutMix on, its alpha 1; timm\'s rand_bbox_minmax)' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l mixup-prob -d 'Probability that a batch (or pair, or image: --mixup-mode) is mixed [default: 1.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l mixup-switch-prob -d 'Probability of CutMix rather than Mixup when both are on [default: 0.5]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l mixup-mode -d 'How mixing parameters are drawn: batch (one for the batch), pair (one per pair of images i and n-1-i) or elem (one per image) [default: batch]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l mixup-off-epoch -d 'Stop mixing from this epoch on (counted from 0, as timm does; the targets stay smoothed); 0 is never [default: 0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l aug-repeats -d 'Repeated augmentation: each image this many times an epoch, the copies spread over the ranks (timm\'s RepeatAugSampler); 0 is off [default: 0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l label-smoothing -d 'Label smoothing of the cross-entropy loss (timm\'s --smoothing, also accepted) [default: 0.1]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l bce-target-thresh -d 'BCE: targets above this become 1, the others 0 [default: none]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l bce-pos-weight -d 'BCE: weight of the positive term (torch\'s pos_weight) [default: none]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l drop -d 'Dropout on the pooled features before the classifier, in training (timm\'s --drop) [default: 0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l clip-grad -d 'Clip gradients after unscaling, before each update (timm\'s --clip-grad; see --clip-mode) [default: none]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l clip-mode -d 'How --clip-grad clips: norm (total 2-norm), value (each entry), agc (timm\'s adaptive clipping, classifier excluded) [default: norm]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l grad-accum-steps -d 'Micro-batches whose gradients add up to one update (loss divided; timm\'s --grad-accum-steps) [default: 1]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l model-ema-decay -d 'EMA decay per update [default: 0.9998]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l checkpoint-hist -d 'Epoch checkpoints to keep, the best by --eval-metric (besides `last`) [default: 1]' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l eval-metric -d 'The validation metric that ranks checkpoints and names `best`; loss is lower-better [default: top1]' -r -f -a "top1\t''
top5\t''
loss\t''"
complete -c dpn -n "__fish_dpn_using_subcommand train" -l resume -d 'Continue a run: its output folder, a checkpoint folder, or a file in one' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand train" -l dist-timeout -d 'Distributed runs: seconds to wait for the other ranks (at the rendezvous and at every collective) before a rank gives up with an error' -r
complete -c dpn -n "__fish_dpn_using_subcommand train" -l dist-bn -d 'Distributed runs: BatchNorm running statistics at the end of each epoch (timm\'s --dist-bn): averaged over the ranks, rank 0\'s, or left per rank' -r -f -a "reduce\t''
broadcast\t''
none\t''"
complete -c dpn -n "__fish_dpn_using_subcommand train" -l dist-backend -d 'Distributed runs: the collective library, by default NCCL on CUDA and Gloo on the CPU; given explicitly, a launcher\'s world of one joins it too' -r -f -a "auto\t''
gloo\t''
nccl\t''"
complete -c dpn -n "__fish_dpn_using_subcommand train" -s o -l output -d 'Where metrics and checkpoints go [default: output/train/<model>-<UTC time>; with --resume, the run\'s own folder]' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand train" -s f -l format -d 'Format of the per-epoch summary printed at the end' -r -f -a "table\t'Aligned columns with human units, for people'
csv\t'Comma-separated, exact values, one header row'
json\t'A JSON array of objects with exact values'
yaml\t'A YAML list of mappings with exact values'
markdown\t'A GitHub-flavoured Markdown table with human units'"
complete -c dpn -n "__fish_dpn_using_subcommand train" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand train" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand train" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand train" -l strict -d 'Stop at the first unreadable image instead of skipping it'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l pretrained -d 'Start from the model\'s pretrained weights in the cache (`dpn fetch MODEL`)'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l channels-last -d 'Train in channels-last (NHWC) memory format'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l nesterov -d 'Nesterov momentum: the same as `--opt sgd`'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l sched-on-updates -d 'Step the schedule after every update (epochs counted in updates) instead of at epoch ends, as timm\'s --sched-on-updates'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l warmup-prefix -d 'The schedule starts after the warmup (which adds --warmup-epochs to the run) instead of counting it'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l resplit -d 'Accepted as timm\'s train.py accepts it, recorded, and without effect: it leaves the first half of each batch unerased only in timm\'s CUDA prefetcher; dpn erases per image, as train.py --no-prefetcher does'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l jsd-loss -d 'Jensen-Shannon divergence + cross-entropy over the --aug-splits views (timm\'s JsdCrossEntropy, alpha 12, --label-smoothing on the clean view)'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l bce-loss -d 'Binary cross-entropy instead of cross-entropy (timm\'s BinaryCrossEntropy; as train.py, it applies with mixup/cutmix or label smoothing on)'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l bce-sum -d 'BCE: sum over classes, then the batch mean (else the mean of every element)'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l model-ema -d 'Keep an exponential moving average of the weights (timm\'s ModelEmaV3), validated each epoch and saved in every checkpoint as <checkpoint>/ema, a loadable model; with it, the EMA\'s metrics choose the best checkpoint, as in timm\'s train.py'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l model-ema-warmup -d 'Ramp the EMA decay up as 1 - (1 + step)^(-2/3) (timm\'s use_warmup)'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l model-ema-force-cpu -d 'Keep the EMA on the CPU; it is then saved but not validated (as timm)'
complete -c dpn -n "__fish_dpn_using_subcommand train" -l sync-bn -d 'Distributed runs: BatchNorm statistics over every process\'s batch together (SyncBatchNorm); costs an all-reduce per BatchNorm in each forward and backward pass'
complete -c dpn -n "__fish_dpn_using_subcommand train" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand train" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand train" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dpn -n "__fish_dpn_using_subcommand average" -s o -l output -d 'Safetensors file to write' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand average" -s n -l n -d 'With a run folder: how many of its best checkpoints to average' -r
complete -c dpn -n "__fish_dpn_using_subcommand average" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand average" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand average" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand average" -l no-use-ema -d 'Average the models, not their EMAs (timm\'s --no-use-ema)'
complete -c dpn -n "__fish_dpn_using_subcommand average" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand average" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand average" -s h -l help -d 'Print help'
complete -c dpn -n "__fish_dpn_using_subcommand export" -s m -l model -d 'Model to run (default: the one a --weights file records)' -r
complete -c dpn -n "__fish_dpn_using_subcommand export" -l weights -d 'Weights file (any format `dpn convert` reads); default: the cached weights of --model' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand export" -s b -l batch-size -d 'Batch dimension: `dynamic` (any size at run time) or a fixed size N (1 to 65536)' -r
complete -c dpn -n "__fish_dpn_using_subcommand export" -l dtype -d 'Floating-point type of the input, outputs and weights: f32, f16 or bf16' -r
complete -c dpn -n "__fish_dpn_using_subcommand export" -l img-size -d 'Input size (default: the one the weights record, else the model\'s)' -r
complete -c dpn -n "__fish_dpn_using_subcommand export" -l crop-pct -d 'Center-crop fraction (default: the one the weights record, else the model\'s)' -r
complete -c dpn -n "__fish_dpn_using_subcommand export" -l interpolation -d 'Resize filter: bicubic, bilinear, nearest, lanczos, box or hamming (default: the one the weights record, else the model\'s)' -r -f -a "bicubic\t''
bilinear\t''
nearest\t''
lanczos\t''
box\t''
hamming\t''"
complete -c dpn -n "__fish_dpn_using_subcommand export" -l labels -d 'Class names to record, one per line (`name` or `synset<TAB>name`); default: the weights\' own, else ImageNet-1k\'s' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand export" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand export" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand export" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand export" -l reject-non-finite -d 'Refuse weights holding NaN or infinite values or negative BatchNorm running variances (exit code 3) instead of warning'
complete -c dpn -n "__fish_dpn_using_subcommand export" -l fold-bn -d 'Fold each BatchNorm that directly follows a convolution into it (a smaller, faster graph; the other BatchNorms stay)'
complete -c dpn -n "__fish_dpn_using_subcommand export" -l features -d 'Add a second output, `features`: the pooled embedding before the classifier'
complete -c dpn -n "__fish_dpn_using_subcommand export" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand export" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand export" -s h -l help -d 'Print help'
complete -c dpn -n "__fish_dpn_using_subcommand augment" -s o -l output -d 'Folder the augmented PNGs go to (made if missing)' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand augment" -s k -l count -d 'Versions of each image (epochs 0 to K - 1)' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l seed -d 'Seed, as `dpn train --seed`' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l grid -d 'Also write a contact sheet: a row per image, a column per version' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l explain -d 'Write each output\'s steps as JSON Lines to FILE, or - for stdout' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand augment" -s m -l model -d 'Model whose mean, std and input size the transform uses (see `dpn info`)' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l weights -d 'A weights file converted or trained by dpn: its recorded model and preprocessing' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l img-size -d 'Output side in pixels [default: the model\'s, or the weights\' recorded one]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l scale -d 'RandomResizedCrop\'s area range [default: 0.08 1.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l ratio -d 'RandomResizedCrop\'s aspect-ratio range [default: 0.75 1.3333]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l hflip -d 'Probability of a horizontal flip [default: 0.5]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l reprob -d 'Random erasing: probability that an image gets erased boxes (timm\'s RandomErasing, on the normalized image) [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l remode -d 'Random erasing\'s fill: const (zeros), rand (a normal value per channel) or pixel (a normal value per pixel and channel) [default: pixel]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l recount -d 'Random erasing: an erased image gets 1 to N boxes, their areas scaled by 1 / the number [default: 1]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l aa -d 'AutoAugment config, as timm\'s --aa: rand-m<M>-n<N>-mstd<S>-mmax<X>-inc<0|1>-p<P> (RandAugment, e.g. rand-m9-mstd0.5-inc1), augmix-m<M>-w<W>-d<D>-a<A>-b<0|1>-mstd<S> (AugMix, e.g. augmix-m3-w3) or an AutoAugment policy (original, originalr, v0, v0r, 3a; optionally -mstd<S>), applied after the crop and flip [default: none]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l train-interpolation -d 'The crop\'s filter, and --aa\'s when not random: random (bilinear or bicubic per image and op), nearest, bilinear, bicubic, box, hamming or lanczos (--aa takes random, bilinear or bicubic) [default: random]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l vflip -d 'Vertical flip probability, after the horizontal flip (timm\'s RandomVerticalFlip) [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l grayscale-prob -d 'Probability of converting an image to grayscale, after --aa (timm\'s RandomGrayscale: Pillow\'s convert("L") in all three channels) [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l color-jitter -d 'Colour jitter factor X: brightness, contrast and saturation each drawn in [max(0, 1 - X), 1 + X], in a random order (timm\'s ColorJitter(X, X, X)), after --aa; only without --aa or with an --aa naming 3a, as timm; 0 is none (runs recorded before this flag load as 0) [default: 0.4]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l color-jitter-prob -d 'Apply the colour jitter with this probability (timm\'s RandomApply) [default: always]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l gaussian-blur-prob -d 'Probability of a Gaussian blur after the grayscale step (timm\'s RandomApply of torchvision\'s GaussianBlur: kernel 23, sigma drawn in [0.1, 2.0]) [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l aug-splits -d 'Each image gives N views: the clean crop and N - 1 copies of it through --aa, colour jitter, grayscale and blur (timm\'s AugMixDataset); dpn train feeds N x --batch-size images an update, split-major; 0 is off, else at least 2 [default: 0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l mixup -d 'Mixup alpha: a batch is blended with its reverse by lam ~ Beta(alpha, alpha), the targets likewise (soft targets, scored by timm\'s SoftTargetCrossEntropy with --label-smoothing in them); 0 is off [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l cutmix -d 'CutMix alpha: a box of the reversed batch pasted in, its area 1 - lam, lam ~ Beta(alpha, alpha); 0 is off [default: 0.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l cutmix-minmax -d 'CutMix box sides as fractions of the image, drawn in [MIN, MAX) (turns CutMix on, its alpha 1; timm\'s rand_bbox_minmax)' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l mixup-prob -d 'Probability that a batch (or pair, or image: --mixup-mode) is mixed [default: 1.0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l mixup-switch-prob -d 'Probability of CutMix rather than Mixup when both are on [default: 0.5]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l mixup-mode -d 'How mixing parameters are drawn: batch (one for the batch), pair (one per pair of images i and n-1-i) or elem (one per image) [default: batch]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l mixup-off-epoch -d 'Stop mixing from this epoch on (counted from 0, as timm does; the targets stay smoothed); 0 is never [default: 0]' -r
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand augment" -l resplit -d 'Accepted as timm\'s train.py accepts it, recorded, and without effect: it leaves the first half of each batch unerased only in timm\'s CUDA prefetcher; dpn erases per image, as train.py --no-prefetcher does'
complete -c dpn -n "__fish_dpn_using_subcommand augment" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand augment" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand augment" -s h -l help -d 'Print help'
complete -c dpn -n "__fish_dpn_using_subcommand report" -s o -l output -d 'The HTML file to write (default: RUN/report.html for one run, report.html for several)' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand report" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand report" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand report" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand report" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand report" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand report" -s h -l help -d 'Print help'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "info" -d 'Show the registry\'s models: architecture, published figures, preprocessing, cache state'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "convert" -d 'Convert weights (.pth of any era, safetensors) to timm-named safetensors, validated'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "predict" -d 'Classify images: top-k classes per image, streamed; optional embeddings'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "evaluate" -d 'Top-1/top-5 and loss on a labelled image set, beside the published figures'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "profile" -d 'Parameters, MACs, file size, peak memory and speed of models, beside the published figures'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "fetch" -d 'Download, verify and convert pretrained weights into the cache; list, verify or clean it'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "train" -d 'Train or fine-tune a DPN on an image folder (timm\'s recipe), with exact resume'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "average" -d 'Average checkpoints\' weights (timm\'s avg_checkpoints.py): a run\'s best, or given files'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "export" -d 'Write a model as an ONNX graph (onnxruntime, TensorRT), checked after writing'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "augment" -d 'Show the training augmentation: the images `dpn train` would feed, and every random step'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "report" -d 'Write a self-contained HTML page of training runs: curves, best epoch, settings side by side'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert predict evaluate profile fetch train average export augment report help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
