// Builds the dashboard into dist/: one script and one stylesheet named by their content hash (so
// the server lets browsers cache them for a year), index.html naming them, and the favicon. The
// script bundles @annal/client, uPlot and the rest, and must import nothing, as a page without a
// bundler cannot resolve a bare import.
import { build } from 'esbuild'
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { gzipSync } from 'node:zlib'

const outdir = 'dist'
await rm(outdir, { recursive: true, force: true })
await mkdir(outdir)

const result = await build({
  entryPoints: ['src/main.ts', 'src/dashboard.css'],
  outdir,
  entryNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
})

const outputs = Object.entries(result.metafile.outputs)
for (const [file, output] of outputs) {
  if (output.imports.length > 0) {
    console.error(`${file} imports ${output.imports.map((entry) => entry.path).join(', ')}; it must be self-contained`)
    process.exit(1)
  }
}
const named = (entry) => basename(outputs.find(([, output]) => output.entryPoint === entry)[0])
const html = (await readFile('static/index.html', 'utf8'))
  .replace('{{script}}', named('src/main.ts'))
  .replace('{{style}}', named('src/dashboard.css'))
await writeFile(`${outdir}/index.html`, html)
await copyFile('static/favicon.svg', `${outdir}/favicon.svg`)

const kilobytes = (size) => `${(size / 1000).toFixed(1)} kB`
for (const [file] of outputs) {
  const bytes = await readFile(file)
  console.log(`${file}: ${kilobytes(bytes.length)}, ${kilobytes(gzipSync(bytes).length)} gzipped`)
}
