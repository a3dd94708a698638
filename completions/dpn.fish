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
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info help" -f -a "info" -d 'Show the registry\'s models: architecture, published figures, preprocessing, cache state'
complete -c dpn -n "__fish_dpn_using_subcommand help; and not __fish_seen_subcommand_from info help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
