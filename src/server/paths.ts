// Disk path rules, as upstream: directories start and end with "/" (root is "/"); a file path is
// a directory plus a filename.

/** `"/a/b.txt"` → `["/a/", "b.txt"]`; `"b.txt"` → `["/", "b.txt"]`; `"/a/"` → `["/a/", ""]`. */
export function splitFilePath(input: string): [dir: string, filename: string] {
  let path = input.trim();
  if (!path.startsWith("/")) path = `/${path}`;
  const slash = path.lastIndexOf("/");
  return [path.slice(0, slash + 1), path.slice(slash + 1)];
}

/**
 * Whether a directory (or file) path is acceptable: non-empty, no NUL, no ".." anywhere, and no
 * segment made only of dots (".", "...") other than the empty segments around slashes.
 */
export function isValidPath(path: string): boolean {
  if (path === "" || path.includes("\0") || path.includes("..")) return false;
  return path.split("/").every((segment) => segment === "" || !/^\.+$/.test(segment));
}

/** Whether a filename is acceptable: non-empty, no slash, valid as a path segment. */
export function isValidFilename(name: string): boolean {
  return name !== "" && !name.includes("/") && isValidPath(name);
}

/** A directory path with the trailing slash upstream's ls requires checked: `"/a/"` ok, `"/a"` not. */
export function isDirectoryPath(path: string): boolean {
  return splitFilePath(path)[0] === path;
}
