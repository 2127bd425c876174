import { makeProduct } from '../support/fixtures';
import { eventually } from '../support/scratch';
import { startTestService } from '../support/service';

test('when the service is told to stop, then /readyz answers 503 while requests are still served for the readiness delay, and only then the listener closes', async () => {
  const svc = await startTestService({ shutdown: { readinessDelay: '1500ms', timeout: '20s' } });
  try {
    await eventually(async () => (await svc.api('GET', '/readyz')).status === 200, 10_000, 'the service to be ready');
    const stopAsked = Date.now();
    const stopped = svc.stop();

    const ready = await svc.api('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.down).toContain('draining');
    // A load balancer has not noticed yet: its requests are still answered.
    await expect(makeProduct(svc)).resolves.toMatchObject({ id: expect.stringMatching(/^\d+$/) });

    await stopped;
    expect(Date.now() - stopAsked).toBeGreaterThanOrEqual(1500);
    await expect(fetch(`${svc.baseUrl}/healthz`)).rejects.toThrow();
  } finally {
    await svc.destroy();
  }
});
