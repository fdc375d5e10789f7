import type { Route } from "../router";
export const operatorRoutes: Route[] = [];
