import { reset } from './summary';
export default function globalSetup(): void {
  reset();
}
