import { Command } from "commander";
import { addTargetOptions, withApi } from "../api.js";
import { print, printJson } from "../output.js";

export function sandboxGetCommand(): Command {
  return addTargetOptions(new Command("get"))
    .description("show a sandbox: status, created, expires")
    .argument("<id>", "sandbox id")
    .option("--json", "print JSON")
    .action(async (id: string, flags: { json?: boolean; baseUrl?: string; apiKey?: string }) => {
      const info = await withApi(flags, "list sandboxes: acontext sandbox ls -a", ({ client }) => client.getSandbox(id));
      if (flags.json) printJson(info);
      else {
        print(`id        ${info.sandbox_id}`);
        print(`status    ${info.sandbox_status}`);
        print(`created   ${info.sandbox_created_at}`);
        print(`expires   ${info.sandbox_expires_at}`);
      }
    });
}
