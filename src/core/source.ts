import { UploadSettings } from '../config/settings'
import { formatBytes } from '../config/format'
import { SourceListing, listSource } from '../upload/file-list'
import { ManifestLine, manifestLines } from '../upload/manifest'
import { Reporter } from './reporter'
import { UploadSource } from './prepare'

/**
 * Lists (and, for incremental uploads, hashes) the workspace. Started before
 * connecting, so that the work on the runner overlaps the SSH handshakes.
 */
export async function readSource(settings: UploadSettings, reporter: Reporter): Promise<UploadSource> {
  const listing = await listSource(settings.sourceDir, settings.exclude)
  reporter.info(`Uploading ${listing.entries.length} entries, ${formatBytes(listing.bytes)}, from ${settings.sourceDir}`)
  for (const skipped of listing.skipped) reporter.warning(`left out ${skipped}: not a file, folder or symlink`)
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
