// Bundles the built client with tlog, note and @noble/* into one ES module file that a page can
// load with <script type="module"> and no bundler. For the browser platform esbuild refuses `node:`
// imports; the check after it makes sure no other import was left in the file, which a page
// without an import map could not resolve.
import { build } from 'esbuild'
import { readFile } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'

const outfile = 'dist/browser/annal-client.js'

const result = await build({
  entryPoints: ['dist/index.js'],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
})

const imports = result.metafile.outputs[outfile]?.imports ?? []
if (imports.length > 0) {
  console.error(`${outfile} imports ${imports.map((entry) => entry.path).join(', ')}; it must be self-contained`)
  process.exit(1)
}
const bytes = await readFile(outfile)
const kilobytes = (size) => `${(size / 1000).toFixed(1)} kB`
console.log(`${outfile}: ${kilobytes(bytes.length)}, ${kilobytes(gzipSync(bytes).length)} gzipped`)
