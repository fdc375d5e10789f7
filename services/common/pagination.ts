// Opaque cursors for cursor pagination: base64url JSON of the last item's sort key.
// A cursor that does not decode is the caller's mistake: a 400, never a 500.
import { HttpProblem } from './http/problem.js';

export interface Page<T> {
  data: T[];
  hasMore: boolean;
  nextCursor?: string;
}

export function encodeCursor(position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<T extends Record<string, string | number>>(cursor: string | undefined, shape: { [K in keyof T]: 'string' | 'number' }): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    for (const [field, type] of Object.entries(shape)) {
      if (typeof value[field] !== type) throw new Error(field);
    }
    return value as T;
  } catch {
    throw new HttpProblem(400, 'invalid-cursor', 'The cursor is not one this API issued; start again without it.', {
      errors: [{ pointer: '/query/cursor', message: 'is not a valid cursor' }],
    });
  }
}

/**
 * A page read down a sequenced log (services/common/data/sequenced-log.ts): `nextBeforeSeq` is
 * where the next page starts, when more may follow; the cursor carries it.
 */
export function seqPage<T>(data: T[], nextBeforeSeq: number | undefined): Page<T> {
  return { data, hasMore: nextBeforeSeq !== undefined, ...(nextBeforeSeq !== undefined ? { nextCursor: encodeCursor({ seq: nextBeforeSeq }) } : {}) };
}

/** Given `limit + 1` rows, the page and whether more follow. */
export function toPage<Row, T>(rows: Row[], limit: number, map: (row: Row) => T, cursorOf: (row: Row) => Record<string, string | number>): Page<T> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    data: pageRows.map(map),
    hasMore,
    ...(hasMore && last !== undefined ? { nextCursor: encodeCursor(cursorOf(last)) } : {}),
  };
}
