
use builtin;
use str;

set edit:completion:arg-completer[dpn] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'dpn'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'dpn'= {
            cand --color 'When to colour stderr and tables'
            cand --model-index 'Model-index YAML file whose models add to or replace the built-in ones'
            cand --cache-dir 'Directory for cached weights'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand -v 'Print more on stderr (repeat for more)'
            cand --verbose 'Print more on stderr (repeat for more)'
            cand -V 'Print the version, the libtorch it runs on and whether CUDA is usable'
            cand --version 'Print the version, the libtorch it runs on and whether CUDA is usable'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand info 'Show the registry''s models: architecture, published figures, preprocessing, cache state'
            cand convert 'Convert weights (.pth of any era, safetensors) to timm-named safetensors, validated'
            cand profile 'Parameters, MACs, file size, peak memory and speed of models, beside the published figures'
            cand fetch 'Download, verify and convert pretrained weights into the cache; list, verify or clean it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'dpn;info'= {
            cand -f 'Output format'
            cand --format 'Output format'
            cand --color 'When to colour stderr and tables'
            cand --model-index 'Model-index YAML file whose models add to or replace the built-in ones'
            cand --cache-dir 'Directory for cached weights'
            cand --all 'One summary row for every model (the default without MODEL)'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand -v 'Print more on stderr (repeat for more)'
            cand --verbose 'Print more on stderr (repeat for more)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'dpn;convert'= {
            cand -m 'Model the weights are for (default: inferred from the tensor shapes)'
            cand --model 'Model the weights are for (default: inferred from the tensor shapes)'
            cand --dtype 'Floating-point type of the output: f32, f16 or bf16'
            cand --color 'When to colour stderr and tables'
            cand --model-index 'Model-index YAML file whose models add to or replace the built-in ones'
            cand --cache-dir 'Directory for cached weights'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand -v 'Print more on stderr (repeat for more)'
            cand --verbose 'Print more on stderr (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dpn;profile'= {
            cand --img-size 'Input side in pixels (default: each model''s registry image size)'
            cand -b 'Images per timed batch'
            cand --batch-size 'Images per timed batch'
            cand -d 'auto, cpu, cuda or cuda:N'
            cand --device 'auto, cpu, cuda or cuda:N'
            cand --dtype 'Compute precision: f32, bf16 or f16 (f16 on CUDA only)'
            cand --warmup 'Untimed batches before timing'
            cand --iters 'Timed batches (0: analytic figures only)'
            cand --weights 'Time with these weights (any format `dpn convert` reads) instead of random ones, and report how long loading them took; needs exactly one MODEL'
            cand -f 'Output format'
            cand --format 'Output format'
            cand --color 'When to colour stderr and tables'
            cand --model-index 'Model-index YAML file whose models add to or replace the built-in ones'
            cand --cache-dir 'Directory for cached weights'
            cand --all 'Profile every model in the registry'
            cand --channels-last 'Run in channels-last (NHWC) memory format'
            cand --by-stage 'MACs and activations per stage (stem, conv2..conv5, head) instead of the summary'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand -v 'Print more on stderr (repeat for more)'
            cand --verbose 'Print more on stderr (repeat for more)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'dpn;fetch'= {
            cand --source 'Where to fetch from'
            cand --mirror 'Base URL or directory (file:// or a plain path) holding the same file names'
            cand --timeout 'Connect and read timeout, in seconds'
            cand --retries 'Retries after a transient failure (timeout, lost connection, HTTP 5xx or 429)'
            cand -f 'Output format of the result table'
            cand --format 'Output format of the result table'
            cand --color 'When to colour stderr and tables'
            cand --model-index 'Model-index YAML file whose models add to or replace the built-in ones'
            cand --cache-dir 'Directory for cached weights'
            cand --all 'Every model that has weights (with --clean: everything in the cache)'
            cand --force 'Download again even when a verified file is cached'
            cand --offline 'Never touch the network; fail at once when a file is not cached'
            cand --list 'List cached weights (of MODELs, or of every model)'
            cand --verify 'Re-check cached files against their digests (exit code 4 on a mismatch)'
            cand --clean 'Remove cached files of MODELs (or, with --all, everything under the cache''s weights/)'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand -v 'Print more on stderr (repeat for more)'
            cand --verbose 'Print more on stderr (repeat for more)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'dpn;help'= {
            cand info 'Show the registry''s models: architecture, published figures, preprocessing, cache state'
            cand convert 'Convert weights (.pth of any era, safetensors) to timm-named safetensors, validated'
            cand profile 'Parameters, MACs, file size, peak memory and speed of models, beside the published figures'
            cand fetch 'Download, verify and convert pretrained weights into the cache; list, verify or clean it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'dpn;help;info'= {
        }
        &'dpn;help;convert'= {
        }
        &'dpn;help;profile'= {
        }
        &'dpn;help;fetch'= {
        }
        &'dpn;help;help'= {
        }
    ]
    $completions[$command]
}
