// Errors that name what went wrong and where, for operators (not stack traces).

/** A user-facing error: configuration, input file, command. Printed without a stack. */
export class OtusError extends Error {
  constructor(
    message: string,
    readonly code: string = 'OTUS_ERROR',
  ) {
    super(message);
    this.name = 'OtusError';
  }
}

/**
 * A configuration or task field that is wrong; `path` is the dotted path of
 * the (first) offending field, and the message names every one.
 */
export class ConfigError extends OtusError {
  constructor(
    message: string,
    readonly path: string = '',
  ) {
    super(message, 'CONFIG_ERROR');
    this.name = 'ConfigError';
  }
}

/** A capture file that is damaged; `offset` is the byte offset where the damage starts. */
export class CaptureFileError extends OtusError {
  constructor(
    readonly file: string,
    readonly offset: number,
    detail: string,
  ) {
    super(`${file}: at byte offset ${offset}: ${detail}`, 'CAPTURE_FILE_ERROR');
    this.name = 'CaptureFileError';
  }
}
