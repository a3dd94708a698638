_dpn() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="dpn"
                ;;
            dpn,augment)
                cmd="dpn__subcmd__augment"
                ;;
            dpn,average)
                cmd="dpn__subcmd__average"
                ;;
            dpn,convert)
                cmd="dpn__subcmd__convert"
                ;;
            dpn,eval)
                cmd="dpn__subcmd__evaluate"
                ;;
            dpn,evaluate)
                cmd="dpn__subcmd__evaluate"
                ;;
            dpn,export)
                cmd="dpn__subcmd__export"
                ;;
            dpn,fetch)
                cmd="dpn__subcmd__fetch"
                ;;
            dpn,help)
                cmd="dpn__subcmd__help"
                ;;
            dpn,info)
                cmd="dpn__subcmd__info"
                ;;
            dpn,predict)
                cmd="dpn__subcmd__predict"
                ;;
            dpn,profile)
                cmd="dpn__subcmd__profile"
                ;;
            dpn,report)
                cmd="dpn__subcmd__report"
                ;;
            dpn,train)
                cmd="dpn__subcmd__train"
                ;;
            dpn__subcmd__help,augment)
                cmd="dpn__subcmd__help__subcmd__augment"
                ;;
            dpn__subcmd__help,average)
                cmd="dpn__subcmd__help__subcmd__average"
                ;;
            dpn__subcmd__help,convert)
                cmd="dpn__subcmd__help__subcmd__convert"
                ;;
            dpn__subcmd__help,evaluate)
                cmd="dpn__subcmd__help__subcmd__evaluate"
                ;;
            dpn__subcmd__help,export)
                cmd="dpn__subcmd__help__subcmd__export"
                ;;
            dpn__subcmd__help,fetch)
                cmd="dpn__subcmd__help__subcmd__fetch"
                ;;
            dpn__subcmd__help,help)
                cmd="dpn__subcmd__help__subcmd__help"
                ;;
            dpn__subcmd__help,info)
                cmd="dpn__subcmd__help__subcmd__info"
                ;;
            dpn__subcmd__help,predict)
                cmd="dpn__subcmd__help__subcmd__predict"
                ;;
            dpn__subcmd__help,profile)
                cmd="dpn__subcmd__help__subcmd__profile"
                ;;
            dpn__subcmd__help,report)
                cmd="dpn__subcmd__help__subcmd__report"
                ;;
            dpn__subcmd__help,train)
                cmd="dpn__subcmd__help__subcmd__train"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        dpn)
            opts="-q -v -V -h --quiet --verbose --color --model-index --cache-dir --version --help info convert predict evaluate eval profile fetch train average export augment report help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__augment)
            opts="-o -k -m -q -v -h --output --count --seed --grid --explain --model --weights --img-size --scale --ratio --hflip --reprob --remode --recount --resplit --aa --train-interpolation --vflip --grayscale-prob --color-jitter --color-jitter-prob --gaussian-blur-prob --aug-splits --mixup --cutmix --cutmix-minmax --mixup-prob --mixup-switch-prob --mixup-mode --mixup-off-epoch --quiet --verbose --color --model-index --cache-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --output)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -o)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --count)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -k)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --seed)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --grid)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --explain)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --weights)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --img-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scale)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ratio)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --hflip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reprob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --remode)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --recount)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --aa)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --train-interpolation)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --vflip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --grayscale-prob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color-jitter)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color-jitter-prob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --gaussian-blur-prob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --aug-splits)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mixup)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cutmix)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cutmix-minmax)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mixup-prob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mixup-switch-prob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mixup-mode)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mixup-off-epoch)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__average)
            opts="-o -n -q -v -h --output --n --no-use-ema --quiet --verbose --color --model-index --cache-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --output)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -o)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --n)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -n)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__convert)
            opts="-m -q -v -h --model --dtype --reject-non-finite --quiet --verbose --color --model-index --cache-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dtype)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__evaluate)
            opts="-m -b -d -f -q -v -h --data --labels-file --labels --model --weights --reject-non-finite --batch-size --device --dtype --channels-last --exact --folded --workers --shard --no-retry --img-size --crop-pct --interpolation --amp --limit --results-file --per-class --merge --format --dist-timeout --report --report-errors --quiet --verbose --color --model-index --cache-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --data)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --labels-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --labels)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --weights)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --batch-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -b)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -d)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dtype)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --workers)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --shard)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --img-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --crop-pct)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --interpolation)
                    COMPREPLY=($(compgen -W "bicubic bilinear nearest lanczos box hamming" -- "${cur}"))
                    return 0
                    ;;
                --amp)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --limit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --results-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --per-class)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --merge)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --format)
                    COMPREPLY=($(compgen -W "table csv json yaml markdown" -- "${cur}"))
                    return 0
                    ;;
                -f)
                    COMPREPLY=($(compgen -W "table csv json yaml markdown" -- "${cur}"))
                    return 0
                    ;;
                --dist-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --report)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --report-errors)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__export)
            opts="-m -b -q -v -h --model --weights --reject-non-finite --batch-size --dtype --fold-bn --features --img-size --crop-pct --interpolation --labels --quiet --verbose --color --model-index --cache-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --weights)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --batch-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -b)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dtype)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --img-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --crop-pct)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --interpolation)
                    COMPREPLY=($(compgen -W "bicubic bilinear nearest lanczos box hamming" -- "${cur}"))
                    return 0
                    ;;
                --labels)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__fetch)
            opts="-f -q -v -h --all --source --force --mirror --offline --timeout --retries --list --verify --clean --format --quiet --verbose --color --model-index --cache-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --source)
                    COMPREPLY=($(compgen -W "url hf" -- "${cur}"))
                    return 0
                    ;;
                --mirror)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --retries)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --format)
                    COMPREPLY=($(compgen -W "table csv json yaml markdown" -- "${cur}"))
                    return 0
                    ;;
                -f)
                    COMPREPLY=($(compgen -W "table csv json yaml markdown" -- "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help)
            opts="info convert predict evaluate profile fetch train average export augment report help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__augment)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__average)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__convert)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__evaluate)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__export)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__fetch)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__info)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__predict)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__profile)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__report)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__help__subcmd__train)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__info)
            opts="-f -q -v -h --all --format --quiet --verbose --color --model-index --cache-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --format)
                    COMPREPLY=($(compgen -W "table csv json yaml markdown" -- "${cur}"))
                    return 0
                    ;;
                -f)
                    COMPREPLY=($(compgen -W "table csv json yaml markdown" -- "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__predict)
            opts="-m -k -0 -b -d -f -q -v -h --model --weights --reject-non-finite --top-k --labels --features --null --batch-size --device --dtype --channels-last --exact --folded --workers --shard --no-retry --img-size --crop-pct --interpolation --format --quiet --verbose --color --model-index --cache-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --weights)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --top-k)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -k)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --labels)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --features)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --batch-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -b)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -d)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dtype)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --workers)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --shard)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --img-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --crop-pct)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --interpolation)
                    COMPREPLY=($(compgen -W "bicubic bilinear nearest lanczos box hamming" -- "${cur}"))
                    return 0
                    ;;
                --format)
                    COMPREPLY=($(compgen -W "table csv json jsonl" -- "${cur}"))
                    return 0
                    ;;
                -f)
                    COMPREPLY=($(compgen -W "table csv json jsonl" -- "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__profile)
            opts="-b -d -f -q -v -h --all --img-size --batch-size --device --dtype --channels-last --exact --folded --warmup --iters --weights --reject-non-finite --by-stage --no-retry --cuda-graph --format --report --quiet --verbose --color --model-index --cache-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --img-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --batch-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -b)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -d)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dtype)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --warmup)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --iters)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --weights)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --format)
                    COMPREPLY=($(compgen -W "table csv json yaml markdown" -- "${cur}"))
                    return 0
                    ;;
                -f)
                    COMPREPLY=($(compgen -W "table csv json yaml markdown" -- "${cur}"))
                    return 0
                    ;;
                --report)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__report)
            opts="-o -q -v -h --output --quiet --verbose --color --model-index --cache-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --output)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -o)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        dpn__subcmd__train)
            opts="-c -b -m -d -o -f -q -v -h --config --data --val-data --val-split --batch-size --img-size --crop-pct --workers --strict --seed --model --pretrained --weights --num-classes --device --amp --channels-last --lr --momentum --nesterov --opt --opt-eps --opt-betas --layer-decay --layer-decay-min-scale --layer-decay-no-opt-scale --lr-base --lr-base-size --lr-base-scale --weight-decay --epochs --sched --sched-on-updates --warmup-epochs --warmup-lr --warmup-prefix --min-lr --decay-epochs --decay-milestones --decay-rate --cooldown-epochs --patience-epochs --lr-cycle-mul --lr-cycle-decay --lr-cycle-limit --lr-k-decay --lr-noise --lr-noise-pct --lr-noise-std --scale --ratio --hflip --reprob --remode --recount --resplit --aa --train-interpolation --vflip --grayscale-prob --color-jitter --color-jitter-prob --gaussian-blur-prob --aug-splits --mixup --cutmix --cutmix-minmax --mixup-prob --mixup-switch-prob --mixup-mode --mixup-off-epoch --jsd-loss --aug-repeats --label-smoothing --bce-loss --bce-target-thresh --bce-sum --bce-pos-weight --drop --clip-grad --clip-mode --grad-accum-steps --model-ema --model-ema-decay --model-ema-warmup --model-ema-force-cpu --checkpoint-hist --eval-metric --resume --dist-timeout --dist-bn --sync-bn --dist-backend --output --format --quiet --verbose --color --model-index --cache-dir --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -c)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --data)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --val-data)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --val-split)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --batch-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -b)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --img-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --crop-pct)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --workers)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --seed)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --model)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -m)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --weights)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --num-classes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --device)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -d)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --amp)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lr)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --momentum)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --opt)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --opt-eps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --opt-betas)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --layer-decay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --layer-decay-min-scale)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --layer-decay-no-opt-scale)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lr-base)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lr-base-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lr-base-scale)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --weight-decay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --epochs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sched)
                    COMPREPLY=($(compgen -W "cosine step multistep plateau poly tanh constant" -- "${cur}"))
                    return 0
                    ;;
                --warmup-epochs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --warmup-lr)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --min-lr)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --decay-epochs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --decay-milestones)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --decay-rate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cooldown-epochs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --patience-epochs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lr-cycle-mul)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lr-cycle-decay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lr-cycle-limit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lr-k-decay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lr-noise)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lr-noise-pct)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --lr-noise-std)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scale)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ratio)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --hflip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reprob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --remode)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --recount)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --aa)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --train-interpolation)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --vflip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --grayscale-prob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color-jitter)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color-jitter-prob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --gaussian-blur-prob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --aug-splits)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mixup)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cutmix)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cutmix-minmax)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mixup-prob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mixup-switch-prob)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mixup-mode)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mixup-off-epoch)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --aug-repeats)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --label-smoothing)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bce-target-thresh)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bce-pos-weight)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --drop)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --clip-grad)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --clip-mode)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --grad-accum-steps)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --model-ema-decay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --checkpoint-hist)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --eval-metric)
                    COMPREPLY=($(compgen -W "top1 top5 loss" -- "${cur}"))
                    return 0
                    ;;
                --resume)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dist-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dist-bn)
                    COMPREPLY=($(compgen -W "reduce broadcast none" -- "${cur}"))
                    return 0
                    ;;
                --dist-backend)
                    COMPREPLY=($(compgen -W "auto gloo nccl" -- "${cur}"))
                    return 0
                    ;;
                --output)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -o)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --format)
                    COMPREPLY=($(compgen -W "table csv json yaml markdown" -- "${cur}"))
                    return 0
                    ;;
                -f)
                    COMPREPLY=($(compgen -W "table csv json yaml markdown" -- "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --model-index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _dpn -o nosort -o bashdefault -o default dpn
else
    complete -F _dpn -o bashdefault -o default dpn
fi
