// `npm run openapi`: writes docs/openapi.json from the code; test/unit/openapi-document.test.ts fails while the
// committed copy differs from what the code generates.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openApiText } from '../src/http/openapi';

const file = path.join(__dirname, '..', 'docs', 'openapi.json');
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, openApiText());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
