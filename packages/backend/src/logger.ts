/** The slice of pino's Logger the backend uses; pass a pino logger (or a child of one). */
export interface BackendLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const noopLogger: BackendLogger = {
  info() {},
  warn() {},
  error() {},
};
