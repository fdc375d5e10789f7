// An in-memory implementation of the generated PetstoreDelegate (tools/codegen/test/fixtures/petstore.yaml):
// one part per tag, each typed by its generated interface (PetsDelegate, StoreDelegate), served by
// generator.test.ts through the generated router and called through the generated client.
//
// The second half is never run: it is a set of small functions that must NOT compile. Each carries a
// ts-expect-error directive, tagged with the case's name, on the line before the one offending line; `tsc` reports an unused directive
// as an error, so `npm run typecheck` passing proves every one of them is still a compile error, and
// generator.test.ts proves the control (a directive removed → exactly that error).
import { createHash } from 'node:crypto';
import type { AuthenticatedContext, RequestContext } from '../../../services/common/http/context.js';
import { problem } from '../../../services/common/http/problem.js';
import type {
  AdoptPetResponse,
  CreatePetRequest,
  CreatePetResponse,
  DeletePetResponse,
  GetPetRequest,
  GetPetResponse,
  GetStoreInfoResponse,
  ListPetsRequest,
  PetsDelegate,
  PetstoreDelegate,
  Schemas,
  StoreDelegate,
} from './fixtures/generated/petstore/delegate.js';
import type { Readable } from './fixtures/generated/petstore/types.js';

/** A pet as the API answers it: no writeOnly `secret`. */
type Pet = Readable<Schemas['Pet']>;

/** Asking for this pet makes getPet answer a body that breaks the spec (it leaks the writeOnly `secret`). */
export const BROKEN_PET_NAME = 'Missingno';

export interface PetstoreDelegateOptions {
  now?: () => Date;
}

export function createPetstoreDelegate({ now = () => new Date() }: PetstoreDelegateOptions = {}): PetstoreDelegate {
  const pets = new Map<string, { pet: Pet; shelter?: string; secret?: string }>();
  const idempotency = new Map<string, { petId: string; fingerprint: string }>();
  const adoptions = new Map<string, Readable<Schemas['Adoption']>>();
  let sequence = 0;
  const nextId = () => `pet_${(++sequence).toString(36).padStart(8, '0')}`;
  const notFound = (petId: string) => ({ status: 404 as const, body: problem(404, 'pet-not-found', `No pet ${petId}.`) });

  const petsPart: PetsDelegate = {
    async listPets({ query, headers }) {
      const matching = [...pets.values()]
        .filter((p) => query.petType === undefined || p.pet.petType === query.petType)
        .filter((p) => query.since === undefined || Date.parse(p.pet.createdAt ?? '') >= Date.parse(query.since))
        .filter((p) => (query.tags ?? []).every((tag) => p.pet.tags.includes(tag)))
        .filter((p) => headers['x-shelter'] === undefined || p.shelter === headers['x-shelter']);
      return {
        status: 200,
        headers: { 'x-total-count': matching.length },
        body: { items: matching.slice(0, query.limit ?? 20).map((p) => p.pet) },
      };
    },

    async createPet({ headers, body }) {
      const key = headers['idempotency-key'];
      const fingerprint = createHash('sha256').update(JSON.stringify(body)).digest('hex');
      const earlier = idempotency.get(key);
      if (earlier) {
        if (earlier.fingerprint !== fingerprint) {
          return { status: 409, body: problem(409, 'idempotency-key-reused', 'This Idempotency-Key was used with another body.') };
        }
        return { status: 201, headers: { location: `/pets/${earlier.petId}` }, body: pets.get(earlier.petId)!.pet };
      }
      const { secret, ...fields } = body;
      const id = nextId();
      const pet: Pet = { ...fields, id, createdAt: now().toISOString() };
      pets.set(id, { pet, ...(headers['x-shelter'] ? { shelter: headers['x-shelter'] } : {}), ...(secret ? { secret } : {}) });
      idempotency.set(key, { petId: id, fingerprint });
      return { status: 201, headers: { location: `/pets/${id}` }, body: pet };
    },

    async getPet({ path }) {
      const stored = pets.get(path.petId);
      if (!stored) return notFound(path.petId);
      if (stored.pet.name === BROKEN_PET_NAME) {
        // A bug on purpose: the cast hides from the compiler what response validation must catch.
        return { status: 200, body: { ...stored.pet, secret: stored.secret ?? 'leaked' } as unknown as Pet };
      }
      return { status: 200, body: stored.pet };
    },

    async deletePet({ path }) {
      if (!pets.delete(path.petId)) return notFound(path.petId);
      adoptions.delete(path.petId);
      return { status: 204 };
    },

    async exportPets(_request, ctx) {
      return { status: 200, body: { exportedBy: ctx.principal.subject, items: [...pets.values()].map((p) => p.pet) } };
    },

    async adoptPet({ path }, ctx) {
      if (!pets.has(path.petId)) return notFound(path.petId);
      const earlier = adoptions.get(path.petId);
      if (earlier) {
        // 409 is not declared on adoptPet: it is one of the statuses its `default` response stands for.
        return { status: 409, body: problem(409, 'already-adopted', `${path.petId} was adopted on ${earlier.adoptedAt}.`) };
      }
      const adoption = { petId: path.petId, adopter: ctx.principal.subject, adoptedAt: now().toISOString() };
      adoptions.set(path.petId, adoption);
      return { status: 200, body: adoption };
    },
  };

  const storePart: StoreDelegate = {
    async getStoreInfo() {
      return { status: 200, body: { name: 'Payspec Pets', motto: null, petCount: pets.size } };
    },

    async getStoreReport(_request, ctx) {
      return { status: 200, body: { petCount: pets.size, adoptedCount: adoptions.size, reportedTo: ctx.principal.subject } };
    },
  };
  return { ...petsPart, ...storePart };
}

// ───────────────────────── Typecheck only: each case below must fail to compile ─────────────────────────
// Not exported, never called. Cases are named `[case]` so generator.test.ts can remove one directive and
// check that exactly the expected error appears.

const cat: Pet = { id: 'pet_00000001', petType: 'cat', name: 'Tom', nickname: null, tags: [], indoor: true, createdAt: '2024-01-01T00:00:00Z' };

/** Secured: the principal is always there. */
async function securedReadsPrincipal(_request: GetPetRequest, ctx: AuthenticatedContext): Promise<string> {
  return ctx.principal.subject;
}

/** A status getPet does not declare. */
async function undeclaredStatus(): Promise<GetPetResponse> {
  // @ts-expect-error [undeclared-status] 418 is not a getPet status
  return { status: 418, body: problem(418, 'teapot') };
}

/** A declared status with a body of the wrong shape. */
async function wrongBody(): Promise<GetPetResponse> {
  // @ts-expect-error [wrong-body] a 200 answers a Pet, not a Problem
  return { status: 200, body: problem(404, 'pet-not-found') };
}

/** An error status with a body of the wrong shape. */
async function wrongErrorBody(): Promise<GetPetResponse> {
  // @ts-expect-error [wrong-error-body] a 404 answers a Problem
  return { status: 404, body: cat };
}

/** The 201's Location header is required. */
async function missingLocation(): Promise<CreatePetResponse> {
  // @ts-expect-error [missing-location] a 201 needs headers.location
  return { status: 201, body: cat };
}

/** The 204 has no body. */
async function bodyOn204(): Promise<DeletePetResponse> {
  // @ts-expect-error [body-on-204] a 204 has no body
  return { status: 204, body: cat };
}

/** A writeOnly property never goes out in a response. */
async function writeOnlyInResponse(): Promise<GetPetResponse> {
  // @ts-expect-error [write-only-in-response] `secret` is writeOnly
  return { status: 200, body: { ...cat, secret: '1234' } };
}

/** `default` stands only for statuses the operation does not declare explicitly. */
async function defaultIsNotSuccess(): Promise<AdoptPetResponse> {
  // @ts-expect-error [default-not-2xx] default covers error statuses only
  return { status: 201, body: problem(409, 'already-adopted') };
}

/** A request field the spec does not have. */
function unknownRequestField(request: ListPetsRequest): unknown {
  // @ts-expect-error [unknown-query-field] listPets has no `sort` query parameter
  return request.query.sort;
}

/** A body field the spec does not have. */
function unknownBodyField(request: CreatePetRequest): unknown {
  // @ts-expect-error [unknown-body-field] a Pet has no `colour`
  return request.body.colour;
}

/** A readOnly property never comes in with a request. */
function readOnlyInRequest(request: CreatePetRequest): string {
  // @ts-expect-error [read-only-in-request] `id` is readOnly, so absent from requests
  return request.body.id;
}

/** The public operation's principal is optional. */
async function publicReadsPrincipal(ctx: RequestContext): Promise<GetStoreInfoResponse> {
  // @ts-expect-error [public-principal] ctx.principal is possibly undefined
  return { status: 200, body: { name: ctx.principal.subject, motto: null, petCount: 0 } };
}

/** The public operation takes a RequestContext, a secured one an AuthenticatedContext. */
function publicContextForSecured(delegate: PetstoreDelegate, ctx: RequestContext): unknown {
  // @ts-expect-error [public-ctx-for-secured] getPet needs a principal
  return delegate.getPet({ path: { petId: 'pet_00000001' } }, ctx);
}

/** A delegate must implement every operation. */
function missingMethod(): PetstoreDelegate {
  const { getStoreInfo: _dropped, ...rest } = createPetstoreDelegate();
  // @ts-expect-error [missing-method] getStoreInfo is not implemented
  return rest;
}

/** …also when written as an object literal: the error is on the declaration. */
function missingMethodLiteral(base: PetstoreDelegate): PetstoreDelegate {
  // @ts-expect-error [missing-method-literal] getStoreInfo is not implemented
  const delegate: PetstoreDelegate = {
    listPets: base.listPets,
    createPet: base.createPet,
    getPet: base.getPet,
    deletePet: base.deletePet,
    exportPets: base.exportPets,
    adoptPet: base.adoptPet,
    getStoreReport: base.getStoreReport,
  };
  return delegate;
}

/** A tag's delegate has that tag's operations only. */
function otherTagMethod(base: PetstoreDelegate): StoreDelegate {
  return {
    getStoreInfo: base.getStoreInfo,
    getStoreReport: base.getStoreReport,
    // @ts-expect-error [other-tag-method] listPets is tagged pets, so it belongs to PetsDelegate
    listPets: base.listPets,
  };
}

/**
 * In a delegate object literal a wrong answer is caught too, but TypeScript reports it on the method's
 * name (the whole method is not assignable), not on the `return` line.
 */
function undeclaredStatusInLiteral(base: PetstoreDelegate): PetstoreDelegate {
  return {
    ...base,
    // @ts-expect-error [undeclared-status-in-literal] 200 is not a deletePet status
    async deletePet() {
      return { status: 200 };
    },
  };
}

void [
  securedReadsPrincipal,
  undeclaredStatus,
  wrongBody,
  wrongErrorBody,
  missingLocation,
  bodyOn204,
  writeOnlyInResponse,
  defaultIsNotSuccess,
  unknownRequestField,
  unknownBodyField,
  readOnlyInRequest,
  publicReadsPrincipal,
  publicContextForSecured,
  missingMethod,
  missingMethodLiteral,
  undeclaredStatusInLiteral,
  otherTagMethod,
];
