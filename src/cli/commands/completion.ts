import { Argument, Command } from "commander";
import { print } from "../output.js";

export function completionCommand(): Command {
  return new Command("completion")
    .description("print a shell completion script")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(["bash", "zsh", "fish"]))
    .addHelpText("after", "\nExamples:\n  $ source <(acontext completion bash)\n  $ acontext completion fish > ~/.config/fish/completions/acontext.fish")
    .action(async (shell: "bash" | "zsh" | "fish", _flags: unknown, command: Command) => {
      const { completionScript } = await import("../completion.js");
      let root = command;
      while (root.parent) root = root.parent;
      print(completionScript(shell, root).trimEnd());
    });
}
