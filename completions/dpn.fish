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
complete -c dpn -n "__fish_dpn_needs_command" -f -a "profile" -d 'Parameters, MACs, file size, peak memory and speed of models, beside the published figures'
complete -c dpn -n "__fish_dpn_needs_command" -f -a "fetch" -d 'Download, verify and convert pretrained weights into the cache; list, verify or clean it'
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
complete -c dpn -n "__fish_dpn_using_subcommand convert" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c dpn -n "__fish_dpn_using_subcommand convert" -s v -l verbose -d 'Print more on stderr (repeat for more)'
complete -c dpn -n "__fish_dpn_using_subcommand convert" -s h -l help -d 'Print help'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l img-size -d 'Input side in pixels (default: each model\'s registry image size)' -r
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
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l color -d 'When to colour stderr and tables' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l model-index -d 'Model-index YAML file whose models add to or replace the built-in ones' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l cache-dir -d 'Directory for cached weights' -r -F
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l all -d 'Profile every model in the registry'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l channels-last -d 'Run in channels-last (NHWC) memory format'
complete -c dpn -n "__fish_dpn_using_subcommand profile" -l by-stage -d 'MACs and activations per stage (stem, conv2..conv5, head) instead of the summary'
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
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert profile fetch help" -f -a "info" -d 'Show the registry\'s models: architecture, published figures, preprocessing, cache state'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert profile fetch help" -f -a "convert" -d 'Convert weights (.pth of any era, safetensors) to timm-named safetensors, validated'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert profile fetch help" -f -a "profile" -d 'Parameters, MACs, file size, peak memory and speed of models, beside the published figures'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert profile fetch help" -f -a "fetch" -d 'Download, verify and convert pretrained weights into the cache; list, verify or clean it'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info convert profile fetch help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
