//! `geoPoint` fields: stored shape, validation, filters on `field.lon`/`field.lat` and
//! `geoDistance()`, realtime rendering.

use serde_json::{json, Value};

use crate::harness::{public_collection, records, TestServer};

const CREATE_FAILED: &str = "Failed to create record.";

fn names(list: &Value) -> Vec<&str> {
    let mut v: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    v.sort_unstable();
    v
}

#[tokio::test]
async fn geo_points_are_validated_stored_and_filtered_by_distance() {
    let mut srv = TestServer::start().await;
    let coll = srv
        .create_collection(public_collection(
            "places",
            json!([
                {"name": "name", "type": "text"},
                {"name": "at", "type": "geoPoint", "required": true},
                {"name": "alt", "type": "geoPoint"}
            ]),
        ))
        .await;
    let at = coll["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "at")
        .unwrap();
    assert_eq!(at["type"], "geoPoint");
    assert_eq!(at["required"], true);

    let su = srv.su();
    let sofia = su
        .create(
            "places",
            json!({"name": "sofia", "at": {"lon": 23.32, "lat": 42.69}}),
        )
        .await;
    assert_eq!(sofia["at"], json!({"lon": 23.32, "lat": 42.69}));
    assert_eq!(
        sofia["alt"],
        json!({"lon": 0, "lat": 0}),
        "unset: the zero point"
    );
    // JSON text is accepted too (multipart forms send it so).
    su.create(
        "places",
        json!({"name": "plovdiv", "at": "{\"lon\": 24.75, \"lat\": 42.15}"}),
    )
    .await;
    su.create(
        "places",
        json!({"name": "paris", "at": {"lat": 48.86, "lon": 2.35}}),
    )
    .await;

    for (body, field, code) in [
        (
            json!({"name": "x", "at": {"lon": 0, "lat": 0}}),
            "at",
            "validation_required",
        ),
        (json!({"name": "x"}), "at", "validation_required"),
        (
            json!({"name": "x", "at": {"lon": 1, "lat": 91}}),
            "at",
            "validation_invalid_latitude",
        ),
        (
            json!({"name": "x", "at": {"lon": 180.5, "lat": 1}}),
            "at",
            "validation_invalid_longitude",
        ),
        (
            json!({"name": "x", "at": [23, 42]}),
            "at",
            "validation_invalid_value",
        ),
        (
            json!({"name": "x", "at": {"lon": "23", "lat": 42}}),
            "at",
            "validation_invalid_value",
        ),
    ] {
        let r = su.post(&records("places"), body.clone()).await;
        r.assert_field_error(CREATE_FAILED, field, code);
    }

    // Within 200 km of Sofia: Sofia and Plovdiv (~130 km), not Paris.
    let near = su
        .list(
            "places",
            "filter=geoDistance(at.lon,at.lat,23.32,42.69)<200",
        )
        .await;
    assert_eq!(names(&near), ["plovdiv", "sofia"]);
    let north = su.list("places", "filter=at.lat>45").await;
    assert_eq!(names(&north), ["paris"]);
    let sorted = su.list("places", "sort=-at.lon").await;
    let order: Vec<&str> = sorted["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["plovdiv", "sofia", "paris"]);

    // Update replaces the point; survives a restart.
    let id = sofia["id"].as_str().unwrap();
    let r = su
        .patch(
            &format!("{}/{id}", records("places")),
            json!({"alt": {"lon": -0.1, "lat": 51.5}}),
        )
        .await
        .ok();
    assert_eq!(r["alt"], json!({"lon": -0.1, "lat": 51.5}));
    assert_eq!(r["at"], json!({"lon": 23.32, "lat": 42.69}));
    srv.restart().await;
    let back = srv
        .su()
        .get(&format!("{}/{id}", records("places")))
        .await
        .ok();
    assert_eq!(back["alt"], r["alt"]);
    assert_eq!(back["at"], r["at"]);
}
