import { Router } from 'express';
import { createProduct, readProduct } from '../../orders/products';
import type { UseCaseDeps } from '../../orders/use-case-deps';
import type { ProductJson } from '../api-schemas';
import { jsonOnly, parseBody, pathId, productBody } from '../validation';

/** `POST /products`, `GET /products/:id`. */
export function productRoutes(deps: UseCaseDeps): Router {
  const router = Router();
  router.post('/products', jsonOnly(true), async (req, res) => {
    const product: ProductJson = await createProduct(deps, parseBody(productBody, req.body));
    res.status(201).location(`/products/${product.id}`).json(product);
  });

  router.get('/products/:id', async (req, res) => {
    const product: ProductJson = await readProduct(deps, pathId(req.params.id, 'product'));
    res.json(product);
  });
  return router;
}
