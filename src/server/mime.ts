// MIME sniffing from content (as upstream: the part's Content-Type is ignored), refined by the
// extension for text, and the `content.type` parser choice for GET artifact.
import { extname } from "node:path";

/** Magic numbers of common binary formats, checked against the first bytes. */
const MAGIC: ReadonlyArray<readonly [mime: string, offset: number, bytes: readonly number[]]> = [
  ["image/png", 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ["image/jpeg", 0, [0xff, 0xd8, 0xff]],
  ["image/gif", 0, [0x47, 0x49, 0x46, 0x38]],
  ["application/pdf", 0, [0x25, 0x50, 0x44, 0x46, 0x2d]],
  ["application/zip", 0, [0x50, 0x4b, 0x03, 0x04]],
  ["application/gzip", 0, [0x1f, 0x8b]],
  ["application/x-bzip2", 0, [0x42, 0x5a, 0x68]],
  ["application/x-xz", 0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["application/x-7z-compressed", 0, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]],
  ["application/wasm", 0, [0x00, 0x61, 0x73, 0x6d]],
  ["application/x-elf", 0, [0x7f, 0x45, 0x4c, 0x46]],
  ["application/vnd.sqlite3", 0, [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65, 0x20, 0x66]],
  ["audio/mpeg", 0, [0x49, 0x44, 0x33]],
  ["audio/ogg", 0, [0x4f, 0x67, 0x67, 0x53]],
  ["application/x-tar", 257, [0x75, 0x73, 0x74, 0x61, 0x72]],
];

/** Text types by extension, used when the content is UTF-8 text. */
const TEXT_BY_EXTENSION: Readonly<Record<string, string>> = {
  ".md": "text/markdown",
  ".markdown": "text/markdown",
  ".yaml": "text/yaml",
  ".yml": "text/yaml",
  ".csv": "text/csv",
  ".tsv": "text/tab-separated-values",
  ".json": "application/json",
  ".html": "text/html",
  ".htm": "text/html",
  ".xml": "text/xml",
  ".css": "text/css",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".ts": "text/typescript",
  ".py": "text/x-python",
  ".go": "text/x-go",
  ".rs": "text/x-rust",
  ".java": "text/x-java",
  ".c": "text/x-c",
  ".h": "text/x-c",
  ".cpp": "text/x-c++",
  ".sh": "text/x-shellscript",
  ".sql": "text/x-sql",
  ".toml": "text/x-toml",
  ".svg": "image/svg+xml",
};

const CODE_EXTENSIONS = new Set([
  ".py",
  ".js",
  ".mjs",
  ".cjs",
  ".ts",
  ".tsx",
  ".jsx",
  ".go",
  ".rs",
  ".java",
  ".kt",
  ".c",
  ".h",
  ".cpp",
  ".hpp",
  ".cc",
  ".cs",
  ".rb",
  ".php",
  ".swift",
  ".scala",
  ".sh",
  ".bash",
  ".zsh",
  ".sql",
  ".r",
  ".lua",
  ".pl",
  ".toml",
  ".css",
  ".scss",
  ".vue",
  ".svelte",
  ".dart",
  ".ex",
  ".exs",
  ".hs",
  ".ml",
  ".zig",
]);
const TEXT_EXTENSIONS = new Set([".txt", ".md", ".markdown", ".log", ".yml", ".yaml", ".xml", ".html", ".htm"]);

export interface ContentFacts {
  /** The first bytes of the file (at least 512 when the file is that long). */
  head: Uint8Array;
  /** Whether the whole file is valid UTF-8 without NUL bytes. */
  isText: boolean;
}

/** The MIME type of a file, e.g. `"text/markdown; charset=utf-8"` or `"image/png"`. */
export function sniffMime(facts: ContentFacts, filename: string): string {
  for (const [mime, offset, bytes] of MAGIC) {
    if (bytes.every((b, i) => facts.head[offset + i] === b)) return mime;
  }
  if (!facts.isText) return "application/octet-stream";
  const ext = extname(filename).toLowerCase();
  const byExtension = TEXT_BY_EXTENSION[ext];
  if (byExtension) return byExtension.startsWith("text/") ? `${byExtension}; charset=utf-8` : byExtension;
  return "text/plain; charset=utf-8";
}

export type ContentType = "json" | "csv" | "code" | "text";

/**
 * Which parser GET artifact uses for `content`, upstream's order: JSON (must parse), CSV, code,
 * then text; undefined when the file is not text.
 */
export function contentTypeOf(mime: string, filename: string, text: string): ContentType | undefined {
  const ext = extname(filename).toLowerCase();
  const base = mime.split(";")[0]!.trim();
  if (ext === ".json" || base === "application/json") {
    try {
      JSON.parse(text);
      return "json";
    } catch {
      // not valid JSON: fall through to the other parsers
    }
  }
  if (ext === ".csv" || base === "text/csv") return "csv";
  if (CODE_EXTENSIONS.has(ext)) return "code";
  if (TEXT_EXTENSIONS.has(ext) || base.startsWith("text/") || base === "application/xml") return "text";
  return undefined;
}

/** Whether grep looks into a file of this MIME type (upstream: text/%, application/json, application/x-%). */
export function isGreppable(mime: string): boolean {
  return mime.startsWith("text/") || mime.startsWith("application/json") || mime.startsWith("application/x-");
}
