//! One op of a transaction against the overlay: its preconditions, its writes and its
//! change-log entry.

use super::indexes::{add_index_entries, remove_index_entries};
use super::migrate::migrate;
use super::overlay::{bump, read_rowid, scan_merged, Overlay};
use super::referrers::{
    add_referrers, refuse_if_referenced, remove_all_referrers_from, remove_referrers,
};
use crate::ids::Seq;
use crate::store::codec;
use crate::store::keys;
use crate::store::types::{Action, ChangeEvent, Expect, StoreError, WriteOp};
use sled::IVec;

fn check_expect(
    current: &Option<IVec>,
    expect: &Expect,
    collection: &crate::ids::CollectionId,
    id: &crate::ids::RecordId,
) -> Result<(), StoreError> {
    let (collection, id) = (collection.clone(), id.clone());
    match (expect, current) {
        (Expect::Any, _) | (Expect::Absent, None) | (Expect::Present, Some(_)) => Ok(()),
        (Expect::Absent, Some(_)) => Err(StoreError::Exists { collection, id }),
        (Expect::Present | Expect::Unchanged(_), None) => {
            Err(StoreError::Missing { collection, id })
        }
        (Expect::Unchanged(v), Some(cur)) if v.as_bytes() == codec::record_payload(cur) => Ok(()),
        (Expect::Unchanged(_), Some(_)) => Err(StoreError::Conflict { collection, id }),
    }
}

pub(super) fn apply(
    ov: &mut Overlay<'_>,
    op: WriteOp,
    seq: &mut u64,
    ts: i64,
    events: &mut Vec<ChangeEvent>,
) -> Result<(), StoreError> {
    match op {
        WriteOp::PutRecord {
            collection,
            id,
            data,
            expect,
            indexes,
            relations,
        } => {
            let key = keys::record(&collection, &id);
            let current = ov.get(&key)?;
            check_expect(&current, &expect, &collection, &id)?;
            let before = current.as_deref().map(codec::decode_record).transpose()?;
            if let Some(old) = &before {
                remove_referrers(ov, &collection, &relations, old, &id);
            }
            add_referrers(ov, &collection, &relations, &data, &id);
            // A create's rowid is its own change seq (log_event below assigns *seq + 1).
            let rowid = match &current {
                Some(raw) => read_rowid(ov, &collection, &id, raw)?,
                None => *seq + 1,
            };
            if let Some(old) = &before {
                remove_index_entries(ov, &collection, &indexes, old, &id, rowid);
            }
            add_index_entries(ov, &collection, &indexes, &data, &id, rowid)?;
            if current
                .as_deref()
                .is_some_and(|raw| codec::record_rowid(raw).is_none())
            {
                // A format-1 record: its rowid moves into the value now.
                ov.del(keys::rowid(&collection, &id));
            }
            ov.put(key, codec::encode_record(&data, rowid));
            if before.is_none() {
                bump(ov, keys::count(&collection), 1);
                ov.put(keys::order(&collection, rowid), id.0.as_bytes().to_vec());
            }
            let action = if before.is_some() {
                Action::Update
            } else {
                Action::Create
            };
            log_event(
                ov,
                seq,
                ts,
                events,
                ChangeEvent {
                    seq: Seq(0),
                    ts,
                    collection,
                    record: id,
                    action,
                    before,
                    after: Some(data),
                },
            );
        }
        WriteOp::DeleteRecord {
            collection,
            id,
            expect,
            indexes,
            relations,
        } => {
            let key = keys::record(&collection, &id);
            let current = ov.get(&key)?;
            let expect = if matches!(expect, Expect::Any) {
                Expect::Present
            } else {
                expect
            };
            check_expect(&current, &expect, &collection, &id)?;
            let before = current.as_deref().map(codec::decode_record).transpose()?;
            let raw = current.as_deref().unwrap_or_default();
            let rowid = read_rowid(ov, &collection, &id, raw)?;
            if let Some(old) = &before {
                remove_index_entries(ov, &collection, &indexes, old, &id, rowid);
                remove_referrers(ov, &collection, &relations, old, &id);
            }
            ov.del(key);
            refuse_if_referenced(ov, &collection, &id)?;
            bump(ov, keys::count(&collection), -1);
            ov.del(keys::order(&collection, rowid));
            if codec::record_rowid(raw).is_none() {
                ov.del(keys::rowid(&collection, &id));
            }
            log_event(
                ov,
                seq,
                ts,
                events,
                ChangeEvent {
                    seq: Seq(0),
                    ts,
                    collection,
                    record: id,
                    action: Action::Delete,
                    before,
                    after: None,
                },
            );
        }
        WriteOp::AssertExists { collection, id } => {
            if ov.get(&keys::record(&collection, &id))?.is_none() {
                return Err(StoreError::Missing { collection, id });
            }
        }
        WriteOp::AssertMeta { key, expected } => {
            if ov.get(&keys::meta(&key))?.as_deref() != Some(expected.as_bytes()) {
                return Err(StoreError::Conflict {
                    collection: key.as_str().into(),
                    id: "".into(),
                });
            }
        }
        WriteOp::PutMeta { key, value } => ov.put(keys::meta(&key), value),
        WriteOp::DeleteMeta { key } => ov.del(keys::meta(&key)),
        WriteOp::Migrate {
            collection,
            renames,
            drops,
            fills,
            indexes,
            relations,
        } => {
            migrate(
                ov,
                &collection,
                &renames,
                &drops,
                &fills,
                &indexes,
                &relations,
            )?;
        }
        WriteOp::DropData { collection } => {
            remove_all_referrers_from(ov, &collection)?;
            for prefix in [
                keys::referrers_prefix(&collection),
                keys::records_prefix(&collection),
                keys::indexes_prefix(&collection),
                keys::order_prefix(&collection),
                keys::rowids_prefix(&collection),
                keys::index_counts_prefix(&collection),
            ] {
                let doomed: Vec<Vec<u8>> = scan_merged(ov, &prefix)?
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect();
                for k in doomed {
                    ov.del(k);
                }
            }
            ov.del(keys::count(&collection));
        }
    }
    Ok(())
}

fn log_event(
    ov: &mut Overlay<'_>,
    seq: &mut u64,
    ts: i64,
    events: &mut Vec<ChangeEvent>,
    mut ev: ChangeEvent,
) {
    *seq += 1;
    ev.seq = Seq(*seq);
    ev.ts = ts;
    ov.put(keys::log(ev.seq), codec::encode_event(&ev));
    events.push(ev);
}
