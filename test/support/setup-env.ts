process.env.NODE_ENV = 'test';
process.env.LOG_LEVEL ??= 'error';
// Neither the tests nor the services and CLIs they start read a developer's .env (see src/env-file.ts).
process.env.ORDER_TIMEOUT_ENV_FILE = '';
