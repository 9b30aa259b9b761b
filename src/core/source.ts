import { UploadSettings } from '../config/settings'
import { formatBytes } from '../config/format'
import { InputError } from '../config/input-error'
import { EXCLUDED_FIRST } from '../config/exclude'
import { SourceListing, listSourceSync } from '../upload/file-list'
import { ManifestLine, manifestLines } from '../upload/manifest'
import { Reporter } from './reporter'
import { UploadSource } from './prepare'

/** The workspace: listed at once, and hashed (for incremental uploads) while other work goes on. */
export interface SourceReading {
  listing: SourceListing
  /** The listing with its manifest, once the hashing is done. */
  ready: Promise<UploadSource>
}

/**
 * Lists (and, for incremental uploads, hashes) the workspace. The listing is
 * made and checked before this returns, so that a caller which starts it
 * before connecting fails before connecting; the hashing runs while the
 * connections are made and the servers inspected.
 */
export function readSource(settings: UploadSettings, reporter: Reporter): SourceReading {
  const listing = listSourceSync(settings.sourceDir, settings.exclude)
  refuseUnusable(listing, settings)
  reporter.info(`Uploading ${listing.entries.length} entries, ${formatBytes(listing.bytes)}, from ${settings.sourceDir}`)
  for (const skipped of listing.skipped) reporter.warning(`left out ${skipped}: not a file, folder or symlink`)
  return { listing, ready: withManifest(settings, listing, reporter) }
}

/**
 * Throws, naming the input and the fix, for a listing that must not be
 * deployed: one with a name that is not UTF-8, or one with no file unless
 * allow-empty is set.
 */
function refuseUnusable(listing: SourceListing, settings: UploadSettings): void {
  refuseUndecodable(listing.undecodable, settings.sourceDir)
  if (settings.allowEmpty || listing.entries.some((entry) => entry.type !== 'directory')) return
  const allow = 'or set allow-empty: true (--allow-empty) to deploy an empty release'
  const excludedByUser = listing.excluded.filter((relPath) => !EXCLUDED_FIRST.includes(relPath))
  if (excludedByUser.length === 0) {
    throw new InputError('source', `${settings.sourceDir} holds no file to upload. Build first, or point source at the build output, ${allow}.`)
  }
  throw new InputError(
    'exclude',
    `leaves no file of ${settings.sourceDir} to upload (left out: ${firstFew(excludedByUser)}). Lines apply in order and the last match decides: put a !pattern after the line it makes an exception to, ${allow}.`
  )
}

/**
 * Names that are not UTF-8 cannot travel byte for byte: the manifest and the
 * incremental lists are UTF-8 text both ends digest, and the file list holds
 * names as text. Refused, rather than uploaded under a name that does not exist.
 */
function refuseUndecodable(undecodable: string[], sourceDir: string): void {
  if (undecodable.length === 0) return
  const names = firstFew(undecodable.map((name) => `"${name}"`))
  const pattern = undecodable[0].replace(/(\\x[0-9a-f]{2})+/g, '*')
  throw new InputError(
    'source',
    `names in ${sourceDir} that are not valid UTF-8 cannot be uploaded (bad bytes shown as \\xNN): ${names}. Rename them to UTF-8 (convmv -f latin1 -t utf-8 renames Latin-1 names), or leave them out with an exclude line, where * matches the bad bytes: ${pattern}`
  )
}

/** The first five items, and how many more there are. */
function firstFew(items: string[]): string {
  return items.slice(0, 5).join(', ') + (items.length > 5 ? ` and ${items.length - 5} more` : '')
}

async function withManifest(settings: UploadSettings, listing: SourceListing, reporter: Reporter): Promise<UploadSource> {
  return {
    sourceDir: settings.sourceDir,
    compressionLevel: settings.compressionLevel,
    listing,
    manifest: await manifestFor(settings, listing, reporter)
  }
}

/** The manifest that makes an incremental upload possible, or undefined when it is off or cannot work. */
async function manifestFor(settings: UploadSettings, listing: SourceListing, reporter: Reporter): Promise<ManifestLine[] | undefined> {
  if (!settings.incremental) return undefined
  if (listing.entries.some((entry) => entry.path.includes('\n'))) {
    reporter.info('Full upload: a file name holds a newline, which the incremental lists cannot carry.')
    return undefined
  }
  return manifestLines(settings.sourceDir, listing.entries)
}
