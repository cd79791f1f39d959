// The programs the backends run inside sandboxes (perl, sh) and the docker backend's Dockerfile
// are files of their own, bundled as text (esbuild's text loader; a plugin in vitest.config.ts
// does the same for tests).
declare module "*.pl" {
  const text: string;
  export default text;
}
declare module "*.sh" {
  const text: string;
  export default text;
}
declare module "*.Dockerfile" {
  const text: string;
  export default text;
}
