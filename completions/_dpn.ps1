
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
            [CompletionResult]::new('profile', 'profile', [CompletionResultType]::ParameterValue, 'Parameters, MACs, file size, peak memory and speed of models, beside the published figures')
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Download, verify and convert pretrained weights into the cache; list, verify or clean it')
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
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more on stderr (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dpn;profile' {
            [CompletionResult]::new('--img-size', '--img-size', [CompletionResultType]::ParameterName, 'Input side in pixels (default: each model''s registry image size)')
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
            [CompletionResult]::new('--by-stage', '--by-stage', [CompletionResultType]::ParameterName, 'MACs and activations per stage (stem, conv2..conv5, head) instead of the summary')
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
        'dpn;help' {
            [CompletionResult]::new('info', 'info', [CompletionResultType]::ParameterValue, 'Show the registry''s models: architecture, published figures, preprocessing, cache state')
            [CompletionResult]::new('convert', 'convert', [CompletionResultType]::ParameterValue, 'Convert weights (.pth of any era, safetensors) to timm-named safetensors, validated')
            [CompletionResult]::new('profile', 'profile', [CompletionResultType]::ParameterValue, 'Parameters, MACs, file size, peak memory and speed of models, beside the published figures')
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Download, verify and convert pretrained weights into the cache; list, verify or clean it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'dpn;help;info' {
            break
        }
        'dpn;help;convert' {
            break
        }
        'dpn;help;profile' {
            break
        }
        'dpn;help;fetch' {
            break
        }
        'dpn;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
