/**
 * Base of every auth error: `message` is what etcd's auth package says ("auth: ..."). The
 * server turns these into what it sends clients (etcd's rpctypes, or code UNKNOWN with this
 * text for the errors etcd has no rpctypes entry for); the auth store knows nothing of gRPC.
 */
export abstract class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class RootUserNotExistError extends AuthError {
  constructor() {
    super('auth: root user does not exist');
  }
}

export class RootRoleNotExistError extends AuthError {
  constructor() {
    super('auth: root user does not have root role');
  }
}

export class UserAlreadyExistError extends AuthError {
  constructor() {
    super('auth: user already exists');
  }
}

export class UserEmptyError extends AuthError {
  constructor() {
    super('auth: user name is empty');
  }
}

export class UserNotFoundError extends AuthError {
  constructor() {
    super('auth: user not found');
  }
}

export class RoleAlreadyExistError extends AuthError {
  constructor() {
    super('auth: role already exists');
  }
}

export class RoleNotFoundError extends AuthError {
  constructor() {
    super('auth: role not found');
  }
}

export class RoleEmptyError extends AuthError {
  constructor() {
    super('auth: role name is empty');
  }
}

export class PermissionNotGivenError extends AuthError {
  constructor() {
    super('auth: permission not given');
  }
}

export class AuthFailedError extends AuthError {
  constructor() {
    super('auth: authentication failed, invalid user ID or password');
  }
}

/** A password was given for (or set on) a user created without one. */
export class NoPasswordUserError extends AuthError {
  constructor() {
    super('auth: authentication failed, password was given for no password user');
  }
}

export class PermissionDeniedError extends AuthError {
  constructor() {
    super('auth: permission denied');
  }
}

export class RoleNotGrantedError extends AuthError {
  constructor() {
    super('auth: role is not granted to the user');
  }
}

export class PermissionNotGrantedError extends AuthError {
  constructor() {
    super('auth: permission is not granted to the role');
  }
}

export class AuthNotEnabledError extends AuthError {
  constructor() {
    super('auth: authentication is not enabled');
  }
}

/** The auth revision a request was checked at is older than the store's: auth changed since. */
export class AuthOldRevisionError extends AuthError {
  constructor() {
    super('auth: revision in header is old');
  }
}

export class InvalidAuthTokenError extends AuthError {
  constructor() {
    super('auth: invalid auth token');
  }
}

/** The --auth-token flag does not parse. */
export class InvalidAuthOptsError extends AuthError {
  constructor(readonly detail?: string) {
    super('auth: invalid auth options');
  }
}

/** The change would lock everyone out (root's user or role while auth is enabled) or is malformed. */
export class InvalidAuthMgmtError extends AuthError {
  constructor() {
    super('auth: invalid auth management');
  }
}

export class InvalidAuthMethodError extends AuthError {
  constructor() {
    super('auth: invalid auth signature method');
  }
}

export class MissingKeyError extends AuthError {
  constructor() {
    super('auth: missing key data');
  }
}

export class KeyMismatchError extends AuthError {
  constructor() {
    super("auth: public and private keys don't match");
  }
}

export class VerifyOnlyError extends AuthError {
  constructor() {
    super('auth: token signing attempted with verify-only key');
  }
}

/** Go's bcrypt refuses passwords longer than 72 bytes rather than silently truncating. */
export class PasswordTooLongError extends Error {
  constructor() {
    super('bcrypt: password length exceeds 72 bytes');
    this.name = 'PasswordTooLongError';
  }
}
