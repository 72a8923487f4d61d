/**
 * The part of an Elasticsearch client koa-sentinel calls, typed by us. Users bring their own client, from their
 * own copy of @elastic/elasticsearch: 8.19 or 9.x, whose `Client` classes are different types (9.x dropped the
 * `body` request forms, changed the transport's option types). Typing against either would refuse the other, so
 * this lists each method we call with the fields we send and read, no more.
 *
 * The request types are looser than both majors' (query DSL is `object`, enumerations are `string`): a client's
 * method fits when its request type is assignable to ours. Method-shorthand signatures keep parameters bivariant,
 * which is what lets the clients' three overloads (without meta, with meta, generic) match one signature. The
 * response types hold only the fields we read, so both majors' responses are assignable to them.
 */

/** Query DSL, aggregations, mappings: JSON we build and the client passes through unchanged. */
export type Dsl = object;

/** A value in a `sort` array of a hit, passed back as `search_after`. */
export type SortValue = string | number | boolean | null;

/** `refresh` as both majors spell it. */
export type Refresh = boolean | 'true' | 'false' | 'wait_for';

/** Per-request transport options: our own retries and timeouts replace the client's. */
export interface ElasticRequestOptions {
  requestTimeout?: number;
  maxRetries?: number;
  signal?: AbortSignal;
}

/** Parameters every request may carry. */
interface CommonRequest {
  filter_path?: string | string[];
}

export interface ElasticErrorCause {
  type: string;
  reason?: string | null;
}

export interface SearchRequest extends CommonRequest {
  index?: string | string[];
  ignore_unavailable?: boolean;
  allow_no_indices?: boolean;
  size?: number;
  track_total_hits?: boolean | number;
  timeout?: string;
  query?: Dsl;
  aggs?: Record<string, Dsl>;
  sort?: string | Dsl | Array<string | Dsl>;
  search_after?: SortValue[];
  _source?: boolean | string | string[] | Dsl;
}

export interface SearchHit {
  _index: string;
  _id?: string | null;
  _source?: unknown;
  sort?: SortValue[];
}

export interface SearchResponse {
  hits: { hits: SearchHit[] };
  /** Absent when no index matched. */
  aggregations?: Record<string, unknown>;
}

export interface MsearchRequest extends CommonRequest {
  /** Header and body objects, alternating. */
  searches?: Dsl[];
}

export interface MsearchResponse {
  /** One per search, in order; a failed search answers with its error instead of hits. */
  responses: Array<SearchResponse | { error: ElasticErrorCause; status: number }>;
}

export interface BulkRequest extends CommonRequest {
  /**
   * Action and document lines, alternating; or the NDJSON text itself, already serialised. The clients' types say
   * array only, but both majors' transports send a string body as it is (the shipper serialises each line once).
   */
  operations?: unknown[] | string;
  index?: string;
  refresh?: Refresh;
  /** ES 8.18+: error reasons do not echo the document. Older servers refuse the parameter. */
  include_source_on_error?: boolean;
}

export interface BulkResponseItem {
  status: number;
  error?: ElasticErrorCause;
}

export interface BulkResponse {
  errors: boolean;
  /** One per action, keyed by the action (`create`, `index`, …). Trimmed by `filter_path` when one was given. */
  items: Array<Partial<Record<'index' | 'create' | 'update' | 'delete', BulkResponseItem>>>;
}

export interface IndexRequest extends CommonRequest {
  index: string;
  id?: string;
  document?: unknown;
  refresh?: Refresh;
  op_type?: 'index' | 'create';
}

export interface WriteResponse {
  _id: string;
  _index: string;
  result: string;
}

export interface GetRequest extends CommonRequest {
  index: string;
  id: string;
}

export interface GetResponse {
  found: boolean;
  _source?: unknown;
}

export interface UpdateRequest extends CommonRequest {
  index: string;
  id: string;
  doc?: unknown;
  refresh?: Refresh;
  retry_on_conflict?: number;
}

export interface CatIndicesRequest extends CommonRequest {
  index?: string | string[];
  format?: string;
  h?: string | string[];
  expand_wildcards?: string | string[];
}

/** Rows of `_cat/indices` with `format: 'json'`. */
export type CatIndicesResponse = Array<{ index?: string }>;

export interface DeleteIndexRequest extends CommonRequest {
  index: string | string[];
}

export interface AcknowledgedResponse {
  acknowledged: boolean;
}

/** What buildTemplates puts in a component template. */
export interface PutComponentTemplateRequest extends CommonRequest {
  name: string;
  template: { settings?: Dsl; mappings?: Dsl };
  _meta?: Record<string, unknown>;
}

/** What buildTemplates puts in an index template. */
export interface PutMappingRequest extends CommonRequest {
  index: string | string[];
  properties?: Dsl;
  allow_no_indices?: boolean;
  ignore_unavailable?: boolean;
  expand_wildcards?: string | string[];
}

export interface PutIndexTemplateRequest extends CommonRequest {
  name: string;
  index_patterns?: string | string[];
  composed_of?: string[];
  priority?: number;
  template?: { settings?: Dsl; mappings?: Dsl };
  _meta?: Record<string, unknown>;
}

export interface NodesInfoRequest extends CommonRequest {
  node_id?: string | string[];
}

export interface NodesInfoResponse {
  /** By node id; `version` is absent only when `filter_path` dropped it. */
  nodes: Record<string, { version?: string }>;
}

/**
 * What koa-sentinel calls on an Elasticsearch client. An @elastic/elasticsearch 8.19 `Client` and a 9.x `Client`
 * are both assignable to it (test/types/elastic-clients.ts proves it at compile time), and so is any stand-in that
 * implements these methods.
 */
export interface ElasticClient {
  search(params?: SearchRequest, options?: ElasticRequestOptions): Promise<SearchResponse>;
  msearch(params: MsearchRequest, options?: ElasticRequestOptions): Promise<MsearchResponse>;
  bulk(params: BulkRequest, options?: ElasticRequestOptions): Promise<BulkResponse>;
  index(params: IndexRequest, options?: ElasticRequestOptions): Promise<WriteResponse>;
  get(params: GetRequest, options?: ElasticRequestOptions): Promise<GetResponse>;
  update(params: UpdateRequest, options?: ElasticRequestOptions): Promise<WriteResponse>;
  cat: {
    indices(params?: CatIndicesRequest, options?: ElasticRequestOptions): Promise<CatIndicesResponse>;
  };
  indices: {
    delete(params: DeleteIndexRequest, options?: ElasticRequestOptions): Promise<AcknowledgedResponse>;
    putIndexTemplate(params: PutIndexTemplateRequest, options?: ElasticRequestOptions): Promise<AcknowledgedResponse>;
    putMapping(params: PutMappingRequest, options?: ElasticRequestOptions): Promise<AcknowledgedResponse>;
  };
  cluster: {
    putComponentTemplate(params: PutComponentTemplateRequest, options?: ElasticRequestOptions): Promise<AcknowledgedResponse>;
  };
  nodes: {
    info(params?: NodesInfoRequest, options?: ElasticRequestOptions): Promise<NodesInfoResponse>;
  };
  /** Closes the client's connections: the CLI's, once its command is done. */
  close(): Promise<void>;
}
