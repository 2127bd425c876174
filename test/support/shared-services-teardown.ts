// Jest globalTeardown of every run: fails it when the shared MariaDB or RabbitMQ went down or restarted.
export default async function sharedServicesTeardown(): Promise<void> {
  const watch = globalThis.sharedServicesWatch;
  if (!watch) return;
  globalThis.sharedServicesWatch = undefined;
  const problems = await watch.check();
  await watch.close();
  if (problems.length > 0)
    throw new Error(
      `npm test must leave the machine's own servers alone (tests that break a server start a private one, ` +
        `test/support/private-services.ts):\n  ${problems.join('\n  ')}`,
    );
}
