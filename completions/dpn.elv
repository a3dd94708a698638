
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
        &'dpn;help'= {
            cand info 'Show the registry''s models: architecture, published figures, preprocessing, cache state'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'dpn;help;info'= {
        }
        &'dpn;help;help'= {
        }
    ]
    $completions[$command]
}
