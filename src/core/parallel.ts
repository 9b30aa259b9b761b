/** Runs `work` over `items`, at most `limit` at a time, keeping the order of the results. */
export async function mapLimit<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index], index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

export type Settled<R> = { ok: true; value: R } | { ok: false; error: Error }

/** Like Promise.allSettled, but limited, and with the errors typed. */
export function settleLimit<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<Settled<R>[]> {
  return mapLimit(items, limit, (item, index) =>
    work(item, index).then(
      (value): Settled<R> => ({ ok: true, value }),
      (error): Settled<R> => ({ ok: false, error: error instanceof Error ? error : new Error(String(error)) })
    )
  )
}
