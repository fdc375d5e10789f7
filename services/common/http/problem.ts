// RFC 9457 problem details: the one shape of every error body Payspec writes.
export const PROBLEM_JSON = 'application/problem+json';
const TYPE_BASE = 'https://payspec.dev/problems/';

export interface ProblemError {
  pointer: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: ProblemError[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A problem body; `code` (kebab-case) names the reason and forms the `type` URI. */
export function problem<S extends number>(
  status: S,
  code: string,
  detail?: string,
  extra: { errors?: ProblemError[]; title?: string } = {},
): Problem & { status: S } {
  return {
    type: `${TYPE_BASE}${code}`,
    title: extra.title ?? TITLES[status] ?? 'Error',
    status,
    code,
    ...(detail !== undefined ? { detail } : {}),
    ...(extra.errors ? { errors: extra.errors } : {}),
  };
}

/** Thrown by runtime code (security, parsing) to answer with a problem; delegates return problems instead. */
export class HttpProblem extends Error {
  readonly problem: Problem;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, detail?: string, extra: { errors?: ProblemError[]; headers?: Record<string, string> } = {}) {
    super(detail ?? code);
    this.problem = problem(status, code, detail, extra);
    this.headers = extra.headers ?? {};
  }
}
