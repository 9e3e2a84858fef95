/**
 * How to start one of our modules in another process or thread. The sources run through tsx (bin/lens.js, the
 * Docker image, jest with ts-jest): a .ts module needs tsx's loader there too; a compiled .js module does not.
 */
import path from 'node:path';

/** The file of module `name` beside `dir` (the caller's __dirname), with the extension the caller itself has. */
export function siblingModule(dir: string, callerFile: string, name: string): string {
  return path.join(dir, `${name}${path.extname(callerFile)}`);
}

/** Node options that let a process load `file` (tsx's CommonJS loader for TypeScript). */
export function loaderArgs(file: string): string[] {
  return file.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs')] : [];
}

/** Source of a worker thread (eval mode) that loads `file`: worker threads take no --require for TypeScript. */
export function threadBootstrap(file: string): string {
  const loader = file.endsWith('.ts') ? `require(${JSON.stringify(require.resolve('tsx/cjs'))});` : '';
  return `${loader}require(${JSON.stringify(file)});`;
}
