/** gRPC status codes etcd answers the auth store's errors with. */
export const GrpcCode = {
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  FAILED_PRECONDITION: 9,
  PERMISSION_DENIED: 7,
  UNAUTHENTICATED: 16,
} as const;

/**
 * Base of every auth error: `message` is what etcd's server sends to clients (its rpctypes
 * text, "etcdserver: ..."; errors the server has no rpctypes entry for go out with their auth
 * text and code UNKNOWN), `authMessage` what etcd's auth package says, `grpcCode` the status.
 */
export abstract class AuthError extends Error {
  abstract readonly grpcCode: number;
  readonly authMessage: string;

  constructor(message: string, authMessage: string) {
    super(message);
    this.name = new.target.name;
    this.authMessage = authMessage;
  }
}

export class RootUserNotExistError extends AuthError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super('etcdserver: root user does not exist', 'auth: root user does not exist');
  }
}

export class RootRoleNotExistError extends AuthError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super(
      'etcdserver: root user does not have root role',
      'auth: root user does not have root role',
    );
  }
}

export class UserAlreadyExistError extends AuthError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super('etcdserver: user name already exists', 'auth: user already exists');
  }
}

export class UserEmptyError extends AuthError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  constructor() {
    super('etcdserver: user name is empty', 'auth: user name is empty');
  }
}

export class UserNotFoundError extends AuthError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super('etcdserver: user name not found', 'auth: user not found');
  }
}

export class RoleAlreadyExistError extends AuthError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super('etcdserver: role name already exists', 'auth: role already exists');
  }
}

export class RoleNotFoundError extends AuthError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super('etcdserver: role name not found', 'auth: role not found');
  }
}

export class RoleEmptyError extends AuthError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  constructor() {
    super('etcdserver: role name is empty', 'auth: role name is empty');
  }
}

export class PermissionNotGivenError extends AuthError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  constructor() {
    super('etcdserver: permission not given', 'auth: permission not given');
  }
}

export class AuthFailedError extends AuthError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  constructor() {
    super(
      'etcdserver: authentication failed, invalid user ID or password',
      'auth: authentication failed, invalid user ID or password',
    );
  }
}

/** A password was given for (or set on) a user created without one. */
export class NoPasswordUserError extends AuthError {
  readonly grpcCode = GrpcCode.UNKNOWN;
  constructor() {
    const text = 'auth: authentication failed, password was given for no password user';
    super(text, text);
  }
}

export class PermissionDeniedError extends AuthError {
  readonly grpcCode = GrpcCode.PERMISSION_DENIED;
  constructor() {
    super('etcdserver: permission denied', 'auth: permission denied');
  }
}

export class RoleNotGrantedError extends AuthError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super('etcdserver: role is not granted to the user', 'auth: role is not granted to the user');
  }
}

export class PermissionNotGrantedError extends AuthError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super(
      'etcdserver: permission is not granted to the role',
      'auth: permission is not granted to the role',
    );
  }
}

export class AuthNotEnabledError extends AuthError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super('etcdserver: authentication is not enabled', 'auth: authentication is not enabled');
  }
}

/** The auth revision a request was checked at is older than the store's: auth changed since. */
export class AuthOldRevisionError extends AuthError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  constructor() {
    super('etcdserver: revision of auth store is old', 'auth: revision in header is old');
  }
}

export class InvalidAuthTokenError extends AuthError {
  readonly grpcCode = GrpcCode.UNAUTHENTICATED;
  constructor() {
    super('etcdserver: invalid auth token', 'auth: invalid auth token');
  }
}

/** The --auth-token flag does not parse. */
export class InvalidAuthOptsError extends AuthError {
  readonly grpcCode = GrpcCode.UNKNOWN;
  constructor(readonly detail?: string) {
    super('auth: invalid auth options', 'auth: invalid auth options');
  }
}

/** The change would lock everyone out (root's user or role while auth is enabled) or is malformed. */
export class InvalidAuthMgmtError extends AuthError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  constructor() {
    super('etcdserver: invalid auth management', 'auth: invalid auth management');
  }
}

export class InvalidAuthMethodError extends AuthError {
  readonly grpcCode = GrpcCode.UNKNOWN;
  constructor() {
    super('auth: invalid auth signature method', 'auth: invalid auth signature method');
  }
}

export class MissingKeyError extends AuthError {
  readonly grpcCode = GrpcCode.UNKNOWN;
  constructor() {
    super('auth: missing key data', 'auth: missing key data');
  }
}

export class KeyMismatchError extends AuthError {
  readonly grpcCode = GrpcCode.UNKNOWN;
  constructor() {
    super("auth: public and private keys don't match", "auth: public and private keys don't match");
  }
}

export class VerifyOnlyError extends AuthError {
  readonly grpcCode = GrpcCode.UNKNOWN;
  constructor() {
    super(
      'auth: token signing attempted with verify-only key',
      'auth: token signing attempted with verify-only key',
    );
  }
}

/** Go's bcrypt refuses passwords longer than 72 bytes rather than silently truncating. */
export class PasswordTooLongError extends Error {
  constructor() {
    super('bcrypt: password length exceeds 72 bytes');
    this.name = 'PasswordTooLongError';
  }
}
