# bash completion for renewd(8): verbs, each verb's options, runbook files
# (*.json) and directories where an option takes one.
_renewd() {
  local cur prev verb opts i
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  local verbs="run plan doctor validate status inventory remediate serve report hosts debug"
  verb=
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in -*) ;; *) verb=${COMP_WORDS[i]}; break ;; esac
  done
  if [[ -z $verb ]]; then
    COMPREPLY=($(compgen -W "$verbs --help --version" -- "$cur"))
    return
  fi
  case $prev in
    --plugins) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --journal) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --runbook)
      COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -S / -- "$cur"))
      compopt -o nospace 2>/dev/null
      return ;;
    --host | --listen | --max-parallel) return ;;
  esac
  case $verb in
    run) opts="--whatif --host --force --json --journal --plugins --max-parallel --show-scripts" ;;
    plan) opts="--host --json --journal --plugins --max-parallel --show-scripts" ;;
    validate) opts="--plugins --list-steps" ;;
    status) opts="--journal --json --all" ;;
    inventory) opts="--host --json --plugins" ;;
    doctor) opts="--runbook --host --json --plugins" ;;
    remediate) opts="--runbook --host --whatif --json --journal --plugins" ;;
    serve) opts="--journal --listen --plugins --max-parallel --once --log-format" ;;
    report) opts="--html --journal" ;;
    hosts)
      if [[ $COMP_CWORD -eq $((i + 1)) ]]; then
        COMPREPLY=($(compgen -W "trust" -- "$cur")); return
      fi
      opts="--runbook --yes" ;;
    debug)
      if [[ $COMP_CWORD -eq $((i + 1)) ]]; then
        COMPREPLY=($(compgen -W "exec script hostkey http psbuild" -- "$cur")); return
      fi
      opts="" ;;
    *) return ;;
  esac
  opts="$opts --help"
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ $verb != status && $verb != hosts && $verb != debug && $verb != remediate ]]; then
    COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -S / -- "$cur"))
    compopt -o nospace 2>/dev/null
  fi
}
complete -F _renewd renewd
