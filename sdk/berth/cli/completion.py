"""`berth completion bash|zsh`: a completion script for the shell, written from the parser itself.

The script is static (no Python runs on Tab): commands and options as of this version. zsh uses
the same script through `bashcompinit`. Install it with, for bash,
`berth completion bash > ~/.local/share/bash-completion/completions/berth`, or add
`eval "$(berth completion zsh)"` to ~/.zshrc.
"""

from __future__ import annotations

import argparse
import shlex

from berth.cli.parser_tree import walk

SHELLS = ("bash", "zsh")

_FUNCTION = """
_berth() {
  local cur=${COMP_WORDS[COMP_CWORD]} path=berth next i
  for ((i = 1; i < COMP_CWORD; i++)); do
    next="$path ${COMP_WORDS[i]}"
    [[ -n ${_berth_subcommands[$next]+set} ]] && path=$next
  done
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "${_berth_options[$path]}" -- "$cur"))
  elif [[ -n ${_berth_subcommands[$path]} ]]; then
    COMPREPLY=($(compgen -W "${_berth_subcommands[$path]}" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _berth berth
"""


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for `shell` ("bash" or "zsh")."""
    subcommands, options = [], []
    for command in walk(parser):
        key = shlex.quote(" ".join(("berth", *command.path)))
        subcommands.append(f"  [{key}]={shlex.quote(' '.join(command.subcommands))}")
        options.append(f"  [{key}]={shlex.quote(' '.join(command.options))}")
    lines = ["# berth shell completion (`berth completion --help` says how to install it)"]
    if shell == "zsh":
        lines.append("autoload -U +X bashcompinit && bashcompinit")
    lines += ["declare -gA _berth_subcommands=(", *subcommands, ")"]
    lines += ["declare -gA _berth_options=(", *options, ")"]
    return "\n".join(lines) + _FUNCTION
