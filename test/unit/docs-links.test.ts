/**
 * The repository stands alone (docs/contracts.md): no file cites a document that lives outside it, every relative
 * markdown link resolves to a file (and a markdown target to one of its headings), and every `docs/<file>.md#anchor`
 * pointer in code or docs names an existing file and section.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** Documents that never were in the repository; spelled in parts so that a search for them finds no false hit here. */
const OUTSIDE_DOCS = [['design', 'md'].join('.'), ['CONTRACTS', 'md'].join('.')];

/** Read access to a tree of files by repository-relative path (the working tree, or an in-memory one in tests). */
interface Tree {
  read(rel: string): string | undefined;
  exists(rel: string): boolean;
}

/** GitHub's heading id: lower case, punctuation dropped (word characters, spaces and hyphens kept), spaces -> '-'. */
function slug(heading: string): string {
  // Outside code spans links count by their text and HTML tags not at all; inside them every character is text.
  const text = heading
    .split('`')
    .map((part, i) => (i % 2 ? part : part.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '')))
    .join('')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

const withoutFencedCode = (md: string) => md.replace(/^ {0,3}(```|~~~)[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, '');

/** The ids a markdown file's headings and explicit `<a id>` / `<a name>` anchors give (duplicates numbered as GitHub). */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFencedCode(markdown).split('\n')) {
    const h = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n ? `${base}-${n}` : base);
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(a[1]);
  }
  return anchors;
}

/** Problems with one target (repository-relative path, optional anchor) in the tree; undefined when it resolves. */
function unresolved(tree: Tree, target: string, anchor: string | undefined): string | undefined {
  if (!tree.exists(target)) return `${target} does not exist`;
  if (anchor === undefined || !target.endsWith('.md')) return undefined;
  const md = tree.read(target);
  if (md !== undefined && anchorsOf(md).has(decodeURIComponent(anchor))) return undefined;
  return `${target} has no section #${anchor}`;
}

/** Relative links of a markdown file (inline and reference style, outside code) that do not resolve. */
function brokenMarkdownLinks(tree: Tree, file: string): string[] {
  const md = withoutFencedCode(tree.read(file) ?? '').replace(/`[^`\n]*`/g, '');
  const targets = [
    ...[...md.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...md.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]),
  ];
  const problems: string[] = [];
  for (const link of targets) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, mailto: ...: not a file of the repository
    const [target, anchor] = link.split('#', 2) as [string, string | undefined];
    const rel = target ? path.posix.normalize(path.posix.join(path.posix.dirname(file), target)) : file;
    const problem = unresolved(tree, rel, anchor);
    if (problem) problems.push(`${file}: link (${link}): ${problem}`);
  }
  return problems;
}

/** `docs/<name>.md[#anchor]` written anywhere in a file (comments, strings, prose), read from the repository root. */
function brokenDocsPointers(tree: Tree, file: string): string[] {
  const problems: string[] = [];
  for (const m of (tree.read(file) ?? '').matchAll(/(?<![\w./-])(docs\/[\w./-]*\.md)(?:#([\w-]+))?/g)) {
    const problem = unresolved(tree, m[1], m[2]);
    if (problem) problems.push(`${file}: ${m[0]}: ${problem}`);
  }
  return problems;
}

/** Lines that cite a document outside the repository. */
function outsideCitations(tree: Tree, file: string): string[] {
  return (tree.read(file) ?? '')
    .split('\n')
    .flatMap((line, i) => (OUTSIDE_DOCS.some((d) => line.includes(d)) ? [`${file}:${i + 1}: ${line.trim()}`] : []));
}

function memoryTree(files: Record<string, string>): Tree {
  const dirs = new Set(Object.keys(files).flatMap((f) => f.split('/').slice(0, -1).map((_, i, p) => p.slice(0, i + 1).join('/'))));
  return { read: (rel) => files[rel], exists: (rel) => rel in files || dirs.has(rel) };
}

/** The working tree's files that git tracks or would track (new files of a change included), text only. */
function workingTree(): { tree: Tree; files: string[] } {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  const cache = new Map<string, string | undefined>();
  const read = (rel: string) => {
    if (!cache.has(rel)) {
      const abs = path.join(ROOT, rel);
      const buf = fs.existsSync(abs) && fs.statSync(abs).isFile() ? fs.readFileSync(abs) : undefined;
      cache.set(rel, buf && !buf.includes(0) ? buf.toString('utf8') : undefined);
    }
    return cache.get(rel);
  };
  const tree: Tree = { read, exists: (rel) => fs.existsSync(path.join(ROOT, rel)) };
  // This file's own fixtures are broken on purpose.
  const self = path.relative(ROOT, __filename).split(path.sep).join('/');
  return { tree, files: listed.filter((f) => f !== self && read(f) !== undefined) };
}

describe('the checks themselves', () => {
  it('derive heading ids as GitHub does', () => {
    expect(slug('The `lens` command (`npx lens <command> --help`)')).toBe('the-lens-command-npx-lens-command---help');
    expect(slug('Orthanc 1.10.1 + DICOMweb plugin 1.7 (Debian): facts measured here')).toBe(
      'orthanc-1101--dicomweb-plugin-17-debian-facts-measured-here',
    );
    expect(slug('Lesion scoring (defaults in `DEFAULT_LESION_OPTIONS`)')).toBe('lesion-scoring-defaults-in-default_lesion_options');
    expect([...anchorsOf('# A\n## Tests\n```\n# not a heading\n```\n### Tests\n<a id="x-y"></a>\n')]).toEqual(['a', 'tests', 'tests-1', 'x-y']);
  });

  it('report a missing file, a missing section and an outside citation, and accept what resolves', () => {
    const tree = memoryTree({
      'README.md': '[ok](docs/a.md#one) [gone](docs/b.md) [bad anchor](docs/a.md#two) [web](https://x.org/y.md) `[code](nowhere.md)`\n',
      'docs/a.md': '# One\n[back](../README.md) [self](#one) [img](img/p.png) [missing img](img/q.png)\n',
      'docs/img/p.png': 'png',
      'src/x.ts': `// see docs/a.md#one and docs/a.md#three, docs/c.md; ${OUTSIDE_DOCS[0]} §2\n`,
    });
    expect(brokenMarkdownLinks(tree, 'README.md')).toEqual([
      'README.md: link (docs/b.md): docs/b.md does not exist',
      'README.md: link (docs/a.md#two): docs/a.md has no section #two',
    ]);
    expect(brokenMarkdownLinks(tree, 'docs/a.md')).toEqual(['docs/a.md: link (img/q.png): docs/img/q.png does not exist']);
    expect(brokenDocsPointers(tree, 'src/x.ts')).toEqual([
      'src/x.ts: docs/a.md#three: docs/a.md has no section #three',
      'src/x.ts: docs/c.md: docs/c.md does not exist',
    ]);
    expect(outsideCitations(tree, 'src/x.ts')).toHaveLength(1);
    expect(outsideCitations(tree, 'docs/a.md')).toEqual([]);
  });
});

describe('the repository stands alone', () => {
  const { tree, files } = workingTree();

  it('lists the files it checks', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'docs/contracts.md', 'src/detect/findings.ts']));
  });

  it('cites no document outside the repository', () => {
    expect(files.flatMap((f) => outsideCitations(tree, f))).toEqual([]);
  });

  it('has no broken relative link in its markdown', () => {
    expect(files.filter((f) => f.endsWith('.md')).flatMap((f) => brokenMarkdownLinks(tree, f))).toEqual([]);
  });

  it('points only at docs files and sections that exist', () => {
    expect(files.flatMap((f) => brokenDocsPointers(tree, f))).toEqual([]);
  });
});
