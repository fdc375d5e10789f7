import type { Route } from "../router";
// Filled in by the customer pages.
export const customerRoutes: Route[] = [];
