import { SHARED_SERVERS } from './shared-servers';
import { watchServers, type ServersWatch } from './shared-services-guard';

// Jest globalSetup of every run (jest.config.js); shared-services-teardown.ts checks and fails the run.
declare global {
  var sharedServicesWatch: ServersWatch | undefined;
}

export default async function sharedServicesSetup(): Promise<void> {
  const watch = await watchServers(SHARED_SERVERS);
  for (const what of watch.unwatched)
    process.stderr.write(`shared-services guard: ${what} is not reachable; not watching it in this run\n`);
  globalThis.sharedServicesWatch = watch;
}
