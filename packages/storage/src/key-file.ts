import { open } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * Writes a private key file with mode 0600 and makes the file and its directory entry durable,
 * so a key that signed something survives a power cut. With `exclusive`, an existing file is
 * left alone and the call fails with EEXIST.
 */
export async function writeKeyFile(path: string, text: string, options: { readonly exclusive?: boolean } = {}): Promise<void> {
  const file = await open(path, options.exclusive === true ? 'wx' : 'w', 0o600)
  try {
    await file.chmod(0o600)
    await file.writeFile(text)
    await file.sync()
  } finally {
    await file.close()
  }
  const directory = await open(dirname(path), 'r')
  try {
    await directory.sync()
  } finally {
    await directory.close()
  }
}
