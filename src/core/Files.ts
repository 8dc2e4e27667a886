/**
 * Files written atomically: the text goes to a temporary file beside the target, which is then renamed
 * over it, so a reader (or an interrupted run) sees the old file or the new one, never a torn one.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

/** write `text` to `file` atomically (temporary file + rename; the directory is created) */
export const writeAtomic = (file: string, text: string): void => {
  const dir = path.dirname(path.resolve(file))
  fs.mkdirSync(dir, { recursive: true })
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`)
  try {
    fs.writeFileSync(tmp, text)
    fs.renameSync(tmp, file)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    throw e
  }
}
