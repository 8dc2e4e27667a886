/**
 * API docs from the doc comments: every module the package entry points export (`stepwise` =
 * src/index.ts, `stepwise/tfjs` = src/tfjs.ts), each export with its kind and the first paragraph of
 * its doc comment on one line. Syntactic (no type checking), so it runs in well under a second.
 *
 *   npm run docs            writes docs/API.md
 *   npm run docs -- --check exits 1 if docs/API.md is not what it would write
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** one exported name */
export interface Export {
  readonly name: string
  readonly kind: string
  /** first paragraph of the doc comment, on one line ('' when there is none) */
  readonly doc: string
}

/** one module as an entry point exposes it */
export interface ModuleDoc {
  /** how a user reaches it: `stepwise` › Grid, `stepwise/tfjs` */
  readonly title: string
  readonly file: string
  readonly doc: string
  readonly exports: ReadonlyArray<Export>
}

/** the package entry points (subpath → source file) */
export const ENTRIES: ReadonlyArray<readonly [string, string]> = [
  ['stepwise', 'src/index.ts'],
  ['stepwise/tfjs', 'src/tfjs.ts'],
]

// -------------------------------------------------------------------------------------------------
// parsing
// -------------------------------------------------------------------------------------------------

const parse = (file: string): ts.SourceFile => ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)

/** the first paragraph of a doc comment, whitespace collapsed */
const firstParagraph = (text: string): string => (text.split(/\n\s*\n/)[0] ?? '').replace(/\s+/g, ' ').trim()

/** the doc comment of a declaration (its JSDoc block, without tags) */
const docOf = (node: ts.Node): string => {
  const blocks = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc)
  const last = blocks[blocks.length - 1]
  if (last === undefined || last.comment === undefined) return ''
  return firstParagraph(typeof last.comment === 'string' ? last.comment : (ts.getTextOfJSDocComment(last.comment) ?? ''))
}

/** the module comment: the first /** … *\/ block of the file, unless it is the doc of a first declaration */
const moduleDoc = (sf: ts.SourceFile): string => {
  const first = sf.statements[0]
  if (first === undefined) return ''
  const blocks = (ts.getLeadingCommentRanges(sf.text, first.getFullStart()) ?? []).map((r) => sf.text.slice(r.pos, r.end)).filter((c) => c.startsWith('/**'))
  const opensWithImport = ts.isImportDeclaration(first) || ts.isExportDeclaration(first) || ts.isImportEqualsDeclaration(first)
  const head = blocks[0]
  if (head === undefined || (!opensWithImport && blocks.length < 2)) return ''
  return firstParagraph(head.replace(/^\/\*\*|\*\/$/g, '').replace(/^\s*\* ?/gm, ''))
}

const isExported = (n: ts.Node): boolean => ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)

const kindOf = (n: ts.Node): string =>
  ts.isFunctionDeclaration(n)
    ? 'function'
    : ts.isInterfaceDeclaration(n)
      ? 'interface'
      : ts.isTypeAliasDeclaration(n)
        ? 'type'
        : ts.isClassDeclaration(n)
          ? 'class'
          : ts.isEnumDeclaration(n)
            ? 'enum'
            : 'const'

/** the exports of one module file, in source order */
export const exportsOf = (file: string): ReadonlyArray<Export> => {
  const sf = parse(file)
  const out: Export[] = []
  for (const st of sf.statements) {
    if (ts.isVariableStatement(st) && isExported(st)) {
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) out.push({ name: d.name.text, kind: 'const', doc: docOf(st) })
    } else if ((ts.isFunctionDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isClassDeclaration(st) || ts.isEnumDeclaration(st)) && isExported(st)) {
      if (st.name !== undefined) out.push({ name: st.name.text, kind: kindOf(st), doc: docOf(st) })
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier !== undefined && ts.isStringLiteral(st.moduleSpecifier)) {
      const from = st.moduleSpecifier.text
      const clause = st.exportClause
      if (clause === undefined) out.push({ name: '*', kind: 're-export', doc: `everything ${from} exports` })
      else if (ts.isNamespaceExport(clause)) out.push({ name: clause.name.text, kind: 'namespace', doc: `the module ${from}` })
      else for (const e of clause.elements) out.push({ name: e.name.text, kind: 're-export', doc: `from ${from}` })
    }
  }
  return out
}

// -------------------------------------------------------------------------------------------------
// the document
// -------------------------------------------------------------------------------------------------

/** every documented module, entry point by entry point */
export const modules = (root: string): ReadonlyArray<ModuleDoc> =>
  ENTRIES.flatMap(([entry, rel]) => {
    const file = path.join(root, rel)
    const sf = parse(file)
    const children = exportsOf(file).flatMap((e): ReadonlyArray<readonly [Export, ModuleDoc]> => {
      if (e.kind !== 'namespace' && e.kind !== 're-export') return []
      const spec = e.doc.replace(/^(the module|everything) /, '').replace(/ exports$/, '')
      const childRel = path.posix.join(path.posix.dirname(rel), spec)
      const childFile = path.join(root, childRel)
      if (!fs.existsSync(childFile)) return []
      const doc = moduleDoc(parse(childFile))
      const title = e.name === '*' ? `\`${entry}\` (top level)` : `\`${entry}\` › ${e.name}`
      // the entry's line for a namespace: the module's first sentence
      const summary = `${e.kind === 'namespace' ? '' : 'everything of '}\`${childRel}\`${doc === '' ? '' : `: ${doc.split(/(?<=\.)\s/)[0]!.replace(/\.$/, '')}`}`
      return [
        [
          { ...e, doc: summary },
          { title, file: childRel, doc, exports: exportsOf(childFile) },
        ],
      ]
    })
    const own: ModuleDoc = { title: `\`${entry}\``, file: rel, doc: moduleDoc(sf), exports: children.map(([e]) => e) }
    return [own, ...children.map(([, m]) => m)]
  })

const cell = (s: string): string => s.replace(/\|/g, '\\|')

/** docs/API.md as `npm run docs` writes it */
export const generate = (root: string): string => render(modules(root))

/** the markdown of some module docs */
export const render = (ms: ReadonlyArray<ModuleDoc>): string => {
  const lines: string[] = [
    '# API',
    '',
    'Generated by `npm run docs` (scripts/docs.ts) from the doc comments: every module the entry points export, each',
    'export with its kind and the first paragraph of its doc comment. Do not edit by hand.',
    '',
  ]
  for (const m of ms) {
    lines.push(`## ${m.title}`, '', `\`${m.file}\`${m.doc === '' ? '' : ` — ${m.doc}`}`, '', '| export | kind | doc |', '|---|---|---|')
    for (const e of m.exports) lines.push(`| \`${e.name}\` | ${e.kind} | ${cell(e.doc === '' ? '(no doc comment)' : e.doc)} |`)
    lines.push('')
  }
  return `${lines.join('\n').trimEnd()}\n`
}

/** exports without a doc comment, as `file: name` */
export const undocumented = (ms: ReadonlyArray<ModuleDoc>): ReadonlyArray<string> => ms.flatMap((m) => m.exports.filter((e) => e.doc === '').map((e) => `${m.file}: ${e.name}`))

// -------------------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------------------

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const root = path.join(import.meta.dirname, '..')
  const target = path.join(root, 'docs', 'API.md')
  const ms = modules(root)
  const text = render(ms)
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : ''
    if (current !== text) {
      console.error('docs/API.md is out of date: run npm run docs')
      process.exitCode = 1
    } else console.log('docs/API.md is up to date')
  } else {
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, text)
    const missing = undocumented(ms)
    console.log(`wrote docs/API.md: ${ms.length} modules${missing.length > 0 ? `, ${missing.length} exports without a doc comment` : ''}`)
  }
}
