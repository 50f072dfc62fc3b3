//! `geoPoint`: a `{"lon": x, "lat": y}` position. The zero point (0, 0) is the blank value, so
//! `required` refuses "Null Island"; coordinates outside ±180 / ±90 degrees are refused with
//! PocketBase's codes. Filters read `field.lon` / `field.lat` (see `query::resolve`), e.g.
//! `geoDistance(home.lon, home.lat, 23.32, 42.69) < 25`.

use super::{invalid_value, IndexKey, Kind, Reader};
use crate::error::FieldError;
use crate::schema::field::{Field, FieldKind};
use serde_json::{json, Map, Value};

pub(crate) struct GeoPoint;

/// The stored form of a point.
fn point(lon: f64, lat: f64) -> Value {
    json!({ "lon": super::number_value(lon), "lat": super::number_value(lat) })
}

/// One coordinate of a client object: a number, absent or null (0); anything else is invalid.
fn coordinate(obj: &Map<String, Value>, key: &str) -> Result<f64, FieldError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(0.0),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(invalid_value),
        Some(_) => Err(invalid_value()),
    }
}

fn lon_lat(v: &Value) -> Option<(f64, f64)> {
    Some((v.get("lon")?.as_f64()?, v.get("lat")?.as_f64()?))
}

impl Kind for GeoPoint {
    fn name(&self) -> &'static str {
        "geoPoint"
    }

    fn parse(&self, _r: &mut Reader, _field_name: &str) -> FieldKind {
        FieldKind::GeoPoint
    }

    fn options_json(&self, _kind: &FieldKind) -> Value {
        json!({})
    }

    fn zero_value(&self, _field: &Field) -> Value {
        point(0.0, 0.0)
    }

    fn is_empty_value(&self, v: &Value) -> bool {
        v.is_null() || lon_lat(v) == Some((0.0, 0.0))
    }

    /// An object with `lon`/`lat` numbers (missing ones are 0, other keys are ignored), or that
    /// object as JSON text; `""` is the zero point.
    fn coerce(&self, _field: &Field, raw: &Value) -> Result<Value, FieldError> {
        match raw {
            Value::Object(obj) => Ok(point(coordinate(obj, "lon")?, coordinate(obj, "lat")?)),
            Value::String(s) if s.trim().is_empty() => Ok(point(0.0, 0.0)),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(obj)) => {
                    Ok(point(coordinate(&obj, "lon")?, coordinate(&obj, "lat")?))
                }
                _ => Err(invalid_value()),
            },
            _ => Err(invalid_value()),
        }
    }

    fn validate(&self, _field: &Field, v: &Value) -> Result<(), FieldError> {
        let (lon, lat) = lon_lat(v).ok_or_else(invalid_value)?;
        if !(-90.0..=90.0).contains(&lat) {
            return Err(FieldError::new(
                "validation_invalid_latitude",
                "Latitude must be between -90 and 90 degrees.",
            ));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(FieldError::new(
                "validation_invalid_longitude",
                "Longitude must be between -180 and 180 degrees.",
            ));
        }
        Ok(())
    }

    fn index_key(&self) -> IndexKey {
        IndexKey::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field() -> Field {
        Field::new("home", FieldKind::GeoPoint)
    }

    #[test]
    fn coerces_objects_and_json_text_to_the_stored_point() {
        let f = field();
        let k = GeoPoint;
        assert_eq!(
            k.coerce(&f, &json!({"lat": 42.5, "lon": 23, "alt": 1})),
            Ok(json!({"lon": 23, "lat": 42.5}))
        );
        assert_eq!(
            k.coerce(&f, &json!({"lat": 1})),
            Ok(json!({"lon": 0, "lat": 1}))
        );
        assert_eq!(
            k.coerce(&f, &json!(r#"{"lon": -1.5, "lat": 2}"#)),
            Ok(json!({"lon": -1.5, "lat": 2}))
        );
        assert_eq!(k.coerce(&f, &json!("")), Ok(json!({"lon": 0, "lat": 0})));
        for bad in [
            json!(1),
            json!([1, 2]),
            json!({"lon": "1"}),
            json!("nope"),
            json!(true),
        ] {
            assert_eq!(k.coerce(&f, &bad), Err(invalid_value()), "{bad}");
        }
    }

    #[test]
    fn refuses_coordinates_out_of_range_and_treats_null_island_as_blank() {
        let f = field();
        let k = GeoPoint;
        assert!(k.validate(&f, &json!({"lon": 180, "lat": -90})).is_ok());
        assert_eq!(
            k.validate(&f, &json!({"lon": 0, "lat": 90.5}))
                .unwrap_err()
                .code,
            "validation_invalid_latitude"
        );
        assert_eq!(
            k.validate(&f, &json!({"lon": -180.1, "lat": 0}))
                .unwrap_err()
                .code,
            "validation_invalid_longitude"
        );
        assert!(k.is_empty_value(&json!({"lon": 0, "lat": 0})));
        assert!(!k.is_empty_value(&json!({"lon": 0, "lat": 0.1})));
        assert_eq!(k.zero_value(&f), json!({"lon": 0, "lat": 0}));
    }
}
