/**
 * The rows of the tables as the database answers them (src/store/migrations/, all applied). Column
 * types as both drivers return them: a bigint is a number from SQLite and may be a string from
 * PostgreSQL (int8), a boolean is 0/1 from SQLite; the stores convert (Number(), !!).
 */

/** An int8 column (epoch milliseconds, counters): number (SQLite) or string (PostgreSQL). */
export type DbBigInt = number | string;
/** A boolean column: boolean (PostgreSQL) or 0/1 (SQLite). */
export type DbBool = boolean | number;

/** Table `certificates`. */
export interface CertificateRow {
  readonly serial: string;
  readonly issuer_id: string;
  readonly profile_id: string;
  readonly profile_version: number;
  readonly status: string;
  readonly subject_dn: string;
  readonly not_before: DbBigInt;
  readonly not_after: DbBigInt;
  readonly tbs: Uint8Array;
  readonly der: Uint8Array | null;
  readonly requested_by: string;
  readonly created_at: DbBigInt;
  readonly updated_at: DbBigInt;
  readonly revoked_at: DbBigInt | null;
  readonly revocation_reason: string | null;
  readonly invalidity_date: DbBigInt | null;
  readonly hold_cause: string | null;
}

/** Table `audit_events`. */
export interface AuditEventRow {
  readonly seq: number;
  readonly id: string;
  readonly at: DbBigInt;
  readonly actor: string;
  readonly action: string;
  readonly object_type: string;
  readonly object_id: string;
  readonly outcome: string;
  readonly details: string | null;
  readonly organisation_id: string | null;
  readonly policy: string | null;
  readonly prev_hash: string | null;
  readonly entry_hash: string | null;
}

/** Table `revocation_events`. */
export interface RevocationEventRow {
  readonly seq: number;
  readonly issuer_id: string;
  readonly serial: string;
  readonly kind: string;
  readonly reason: string | null;
  readonly at: DbBigInt;
  readonly invalidity_date: DbBigInt | null;
  readonly actor: string;
}

/** Table `crl_counters`. */
export interface CrlCounterRow {
  readonly issuer_id: string;
  readonly last_number: DbBigInt;
}

/** Table `crls`. */
export interface CrlRow {
  readonly issuer_id: string;
  readonly number: DbBigInt;
  readonly kind: string;
  readonly base_number: DbBigInt | null;
  readonly last_event_seq: number;
  readonly this_update: DbBigInt;
  readonly next_update: DbBigInt;
  readonly entries: number;
  readonly der: Uint8Array;
}

/** Table `organisations`. */
export interface OrganisationRow {
  readonly id: string;
  readonly org_number: string;
  readonly name: string;
  readonly registration_certificate: string | null;
  readonly domain_validated_at: DbBigInt | null;
  readonly status: string;
  readonly created_at: DbBigInt;
  readonly country: string;
  readonly domain: string | null;
  readonly domain_validation_method: string | null;
  readonly ip_allow_list: string | null;
  readonly service_owner: DbBool;
}

/** Table `people`. */
export interface PersonRow {
  readonly id: string;
  readonly organisation_id: string;
  readonly national_id_hash: string;
  readonly name: string;
  readonly email: string | null;
  readonly created_at: DbBigInt;
  readonly bound_by: string | null;
  readonly bound_at: DbBigInt | null;
  readonly unbound_by: string | null;
  readonly unbound_at: DbBigInt | null;
  readonly phone: string | null;
  readonly postal_address: string | null;
  readonly human_id: string | null;
  readonly language: string | null;
  readonly birth_date: string | null;
  readonly national_id_masked: string | null;
}

/** Table `officers`. */
export interface OfficerRow {
  readonly person_id: string;
  readonly roles: string;
  readonly qualified_until: DbBigInt | null;
  readonly service_owner_staff: DbBool;
  readonly appointed_by: string | null;
  readonly qualification: string | null;
}

/** Table `orders`. */
export interface OrderRow {
  readonly id: string;
  readonly organisation_id: string;
  readonly applicant_id: string;
  readonly workflow_id: string;
  readonly workflow_version: number;
  readonly state: string;
  readonly version: number;
  readonly terms_version: string | null;
  readonly register_ok: DbBool | null;
  readonly register_at: DbBigInt | null;
  readonly handed_out_at: DbBigInt | null;
  readonly created_at: DbBigInt;
  readonly updated_at: DbBigInt;
  readonly purpose: string;
  readonly profile_id: string | null;
  readonly cert_serial: string | null;
  readonly renewal_of: string | null;
  readonly applicant_token_hash: string | null;
  readonly activation_code_hash: string | null;
  readonly activated_at: DbBigInt | null;
  readonly register_status: string | null;
  readonly register_source: string | null;
  readonly registered_name: string | null;
  readonly approved_at: DbBigInt | null;
  readonly state_since: DbBigInt | null;
}

/** Table `order_identifications`. */
export interface OrderIdentificationRow {
  readonly seq: number;
  readonly order_id: string;
  readonly officer_id: string;
  readonly kind: string;
  readonly at: DbBigInt;
  readonly document_type: string;
  readonly document_number_hash: string;
  readonly document_expires: DbBigInt;
  readonly face_compared: DbBool;
  readonly human_id: string | null;
}

/** Table `officer_credentials`. */
export interface OfficerCredentialRow {
  readonly serial: string;
  readonly person_id: string;
  readonly created_at: DbBigInt;
}

/** Table `notifications`. */
export interface NotificationRow {
  readonly id: string;
  readonly person_id: string;
  readonly channel: string;
  readonly subject: string;
  readonly body: string;
  readonly created_at: DbBigInt;
  readonly sent_at: DbBigInt | null;
  readonly kind: string;
  readonly secret: DbBool;
  readonly state: string;
  readonly attempts: number;
  readonly next_attempt_at: DbBigInt;
  readonly last_error: string | null;
  readonly claimed_by: string | null;
  readonly claimed_until: DbBigInt | null;
  readonly updated_at: DbBigInt | null;
}

/** Table `revocation_requests`. */
export interface RevocationRequestRow {
  readonly id: string;
  readonly serial: string;
  readonly reason: string;
  readonly organisation_id: string;
  readonly channel: string;
  readonly requested_by: string;
  readonly requested_at: DbBigInt;
  readonly status: string;
  readonly decided_by: string | null;
  readonly decided_at: DbBigInt | null;
  readonly kind: string;
  readonly requested_by_human: string | null;
  readonly person_id: string | null;
}

/** Table `cards`. */
export interface CardRow {
  readonly id: string;
  readonly card_serial: string;
  readonly atr: string;
  readonly order_id: string;
  readonly holder_person_id: string;
  readonly state: string;
  readonly slot: string | null;
  readonly algorithm: string | null;
  readonly cert_serial: string | null;
  readonly management_key_algorithm: string | null;
  readonly management_key_sealed: string | null;
  readonly management_key_next_sealed: string | null;
  readonly puk_sealed: string | null;
  readonly pin_state: string | null;
  readonly round_trips: number | null;
  readonly error: string | null;
  readonly created_at: DbBigInt;
  readonly updated_at: DbBigInt;
}

/** Table `audit_checkpoints`. */
export interface AuditCheckpointRow {
  readonly seq: number;
  readonly entry_hash: string;
  readonly entries: number;
  readonly at: DbBigInt;
  readonly signer: string;
  readonly signer_spki_sha256: string;
  readonly signature: string;
}

/** Table `audit_anchor`. */
export interface AuditAnchorRow {
  readonly id: number;
  readonly seq: number;
  readonly entry_hash: string;
  readonly removed_before: DbBigInt;
  readonly at: DbBigInt;
}

/** Table `data_keys`. */
export interface DataKeyRow {
  readonly id: string;
  readonly wrapped: string;
  readonly algorithm: string;
  readonly wrapping_key: string;
  readonly created_at: DbBigInt;
}

/** Table `portal_sessions`. */
export interface PortalSessionRow {
  readonly id_hash: string;
  readonly csrf_hash: string;
  readonly credential: string;
  readonly created_at: DbBigInt;
  readonly last_seen: DbBigInt;
  readonly kind: string;
}

/** Table `applicant_link_uses`. */
export interface ApplicantLinkUseRow {
  readonly token_hash: string;
  readonly order_id: string;
  readonly used_at: DbBigInt;
}

/** Table `applicant_sessions`. */
export interface ApplicantSessionRow {
  readonly id_hash: string;
  readonly csrf_hash: string;
  readonly order_id: string;
  readonly token_hash: string;
  readonly created_at: DbBigInt;
  readonly expires_at: DbBigInt;
}

/** Table `applicant_link_refusals`. */
export interface ApplicantLinkRefusalRow {
  readonly seq: number;
  readonly order_id: string;
  readonly ip: string;
  readonly at: DbBigInt;
  readonly reason: string;
}

/** Table `audit_timestamps`. */
export interface AuditTimestampRow {
  readonly seq: DbBigInt;
  readonly token: string;
  readonly gen_time: DbBigInt;
  readonly tsa: string;
  readonly checkpoint_at: DbBigInt;
}

/** Table `activation_challenges`. */
export interface ActivationChallengeRow {
  readonly order_id: string;
  readonly cert_serial: string;
  readonly challenge: string;
  readonly issued_at: DbBigInt;
  readonly expires_at: DbBigInt;
  readonly used_at: DbBigInt | null;
}

/** Table `transport_pin_replacements`. */
export interface TransportPinReplacementRow {
  readonly seq: number;
  readonly order_id: string;
  readonly cert_serial: string;
  readonly card_serial: string | null;
  readonly at: DbBigInt;
  readonly recorded_by: string;
}

/** Table `order_actors`. */
export interface OrderActorRow {
  readonly seq: number;
  readonly order_id: string;
  readonly action: string;
  readonly person_id: string;
  readonly human_id: string;
  readonly at: DbBigInt;
}

/** Table `role_grants`. */
export interface RoleGrantRow {
  readonly id: string;
  readonly person_id: string;
  readonly organisation_id: string;
  readonly roles: string;
  readonly qualification: string | null;
  readonly qualified_until: DbBigInt | null;
  readonly requested_by: string;
  readonly requested_by_human: string;
  readonly requested_at: DbBigInt;
  readonly status: string;
  readonly decided_by: string | null;
  readonly decided_at: DbBigInt | null;
}

/** Table `revocation_jobs`. */
export interface RevocationJobRow {
  readonly id: string;
  readonly kind: string;
  readonly target: string;
  readonly organisation_id: string | null;
  readonly reason: string;
  readonly actor: string;
  readonly operator_serial: string;
  readonly status: string;
  readonly total: number;
  readonly done: number;
  readonly revoked: number;
  readonly skipped: number;
  readonly created_at: DbBigInt;
  readonly updated_at: DbBigInt;
  readonly finished_at: DbBigInt | null;
}

/** Table `revocation_job_items`. */
export interface RevocationJobItemRow {
  readonly job_id: string;
  readonly seq: number;
  readonly serial: string;
  readonly state: string;
}

/** Table `bureau_batches`. */
export interface BureauBatchRow {
  readonly id: string;
  readonly created_at: DbBigInt;
  readonly created_by: string;
  readonly sha256: string;
  readonly cards: number;
}

/** Table `bureau_cards`. */
export interface BureauCardRow {
  readonly order_id: string;
  readonly batch_id: string;
  readonly line: number;
  readonly state: string;
  readonly state_at: DbBigInt;
  readonly card_serial: string | null;
  readonly cert_serial: string | null;
  readonly carrier: string | null;
  readonly tracking_id: string | null;
  readonly shipped_at: DbBigInt | null;
  readonly alarm_at: DbBigInt | null;
}

/** Table `bureau_answers`. */
export interface BureauAnswerRow {
  readonly id: string;
  readonly batch_id: string;
  readonly sha256: string;
  readonly at: DbBigInt;
}

/** Table `ocsp_responses`. */
export interface OcspResponseRow {
  readonly issuer_id: string;
  readonly serial: string;
  readonly status: string;
  readonly revoked_at: DbBigInt | null;
  readonly reason: string | null;
  readonly this_update: DbBigInt;
  readonly next_update: DbBigInt;
  readonly refresh_at: DbBigInt;
  readonly der: Uint8Array;
}

/** Table `certificate_counts` (kept by triggers on `certificates`). */
export interface CertificateCountRow {
  readonly status: string;
  readonly profile_id: string;
  readonly shard: string;
  readonly n: DbBigInt;
}

/** Every table by name: `db("certificates")` is a query of CertificateRow (knex's `Tables` registry). */
export interface TableRows {
  activation_challenges: ActivationChallengeRow;
  applicant_link_refusals: ApplicantLinkRefusalRow;
  applicant_link_uses: ApplicantLinkUseRow;
  applicant_sessions: ApplicantSessionRow;
  audit_anchor: AuditAnchorRow;
  audit_checkpoints: AuditCheckpointRow;
  audit_events: AuditEventRow;
  audit_timestamps: AuditTimestampRow;
  bureau_answers: BureauAnswerRow;
  bureau_batches: BureauBatchRow;
  bureau_cards: BureauCardRow;
  cards: CardRow;
  certificate_counts: CertificateCountRow;
  certificates: CertificateRow;
  crl_counters: CrlCounterRow;
  crls: CrlRow;
  data_keys: DataKeyRow;
  notifications: NotificationRow;
  ocsp_responses: OcspResponseRow;
  officer_credentials: OfficerCredentialRow;
  officers: OfficerRow;
  order_actors: OrderActorRow;
  order_identifications: OrderIdentificationRow;
  orders: OrderRow;
  organisations: OrganisationRow;
  people: PersonRow;
  portal_sessions: PortalSessionRow;
  revocation_events: RevocationEventRow;
  revocation_job_items: RevocationJobItemRow;
  revocation_jobs: RevocationJobRow;
  revocation_requests: RevocationRequestRow;
  role_grants: RoleGrantRow;
  transport_pin_replacements: TransportPinReplacementRow;
}

declare module "knex/types/tables.js" {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Tables extends TableRows {}
}
