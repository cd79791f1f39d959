// Shell completion scripts generated from the command tree, so they never drift from it.
import type { Command } from "commander";

interface Node {
  path: string[];
  commands: string[];
  options: string[];
}

/** Every command path with its subcommand names and its long options. */
export function commandNodes(root: Command): Node[] {
  const nodes: Node[] = [];
  const walk = (cmd: Command, path: string[]) => {
    const commands = cmd.commands.filter((c) => c.name() !== "help").flatMap((c) => [c.name(), ...c.aliases()]);
    const options = cmd.options.flatMap((o) => [o.long, o.short]).filter((o): o is string => Boolean(o));
    nodes.push({ path, commands, options: [...options, "--help"] });
    for (const sub of cmd.commands) if (sub.name() !== "help") walk(sub, [...path, sub.name()]);
  };
  walk(root, []);
  return nodes;
}

export function completionScript(shell: "bash" | "zsh" | "fish", root: Command): string {
  const nodes = commandNodes(root);
  const name = root.name();
  if (shell === "fish") {
    const lines = [`# ${name} completion for fish: ${name} completion fish > ~/.config/fish/completions/${name}.fish`];
    for (const node of nodes) {
      const condition = node.path.length === 0 ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${node.path[node.path.length - 1]}`;
      if (node.commands.length) lines.push(`complete -c ${name} -f -n '${condition}' -a '${node.commands.join(" ")}'`);
      for (const option of node.options.filter((o) => o.startsWith("--"))) {
        lines.push(`complete -c ${name} -n '${condition}' -l '${option.slice(2)}'`);
      }
    }
    return `${lines.join("\n")}\n`;
  }
  const cases = nodes.map((node) => `    "${node.path.join(" ")}") words="${[...node.commands, ...node.options].join(" ")}" ;;`).join("\n");
  const bash = `_${name}_complete() {
  local path="" word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    case "\${path:+$path }$word" in
${nodes
  .filter((n) => n.path.length)
  .map((n) => `      "${n.path.join(" ")}") path="${n.path.join(" ")}" ;;`)
  .join("\n")}
    esac
  done
  local words=""
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "\${COMP_WORDS[COMP_CWORD]}"))
}
complete -o default -F _${name}_complete ${name}
`;
  if (shell === "bash") return `# ${name} completion for bash: source <(${name} completion bash)\n${bash}`;
  return `# ${name} completion for zsh: source <(${name} completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}
