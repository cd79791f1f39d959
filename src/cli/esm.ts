// import() of an ESM-only dependency from the CLI bundle. bin/acontext.js compiles the bundle with
// a code cache (node:vm), and code compiled that way cannot call import() on Node 20: the shim
// provides the import instead. From source (tests), a plain import().
export function importEsm<T>(specifier: string): Promise<T> {
  const provided = (globalThis as { __acontextImport?: (specifier: string) => Promise<unknown> }).__acontextImport;
  return (provided ? provided(specifier) : import(specifier)) as Promise<T>;
}
