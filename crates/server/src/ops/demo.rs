//! The demo route: a shipper, a courier and a day of mixed parcels (every label kind, every
//! policy outcome, every step at the door), seeded through the store as a shipper's system
//! would create them. `doorstep-server demo`, the tests and the benchmarks start from it.

use std::collections::HashMap;

use doorstep_protocol::wire::{CreateParcelRequest, DeliveryMethod, Location, Money, Recipient};
use doorstep_protocol::{CourierId, ParcelId, StopId, barcode};

use crate::config::ServerConfig;
use crate::domain::parcel::NewParcel;
use crate::error::ServerError;
use crate::ops::open_store;
use crate::store;

/// What [`seed_demo`] made.
#[derive(Debug, Clone)]
pub struct DemoSeed {
    /// A fresh enrollment code for the demo courier (valid 48 h).
    pub enrollment_code: String,
    /// The demo shipper's API key.
    pub shipper_api_key: String,
    /// The fleet manager's admin token.
    pub admin_token: String,
    /// The demo courier.
    pub courier_id: CourierId,
    /// The parcels.
    pub parcels: Vec<DemoParcel>,
    /// The barcode of a parcel on another courier's route the same day: on the label sheet,
    /// so QA can scan a parcel that is not on the demo courier's route.
    pub off_route_barcode: String,
}

/// One seeded parcel.
#[derive(Debug, Clone)]
pub struct DemoParcel {
    /// Parcel id.
    pub parcel_id: ParcelId,
    /// Its stop.
    pub stop_id: StopId,
    /// The label's barcode as printed under it and as a shipper would send it (e.g. the
    /// bracketed GS1 element string `(00)095212342611250016`); type or scan it.
    pub barcode: String,
    /// What a scan of the label resolves to, [`doorstep_protocol::Barcode::key`]: the
    /// parcel's `barcode` in the manifest (e.g. `00095212342611250016`).
    pub barcode_key: String,
    /// The stop's code in plain text (demo only), when one is needed.
    pub code: Option<String>,
    /// Whether a code is needed.
    pub code_required: bool,
    /// Whether offline handover is allowed.
    pub offline_allowed: bool,
    /// Whether a photo is needed.
    pub photo_required: bool,
    /// What kind of demo parcel this is.
    pub label: String,
    /// Recipient's name.
    pub recipient_name: String,
    /// The customer page.
    pub customer_url: String,
}

/// What kind of label a demo parcel carries. Most are GS1-128 with an SSCC, as parcel
/// carriers print them; one each of the other kinds keeps every path of
/// [`doorstep_protocol::Barcode::parse`] in the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DemoLabel {
    /// GS1-128, AI (00): an SSCC under the GS1 prefix 952, which GS1 set aside for examples
    /// and demonstrations, so a demo label never collides with a real parcel.
    Sscc,
    /// A UPU S10 postal tracking number, printed as Code 128.
    S10,
    /// A shipper's own reference, printed as Code 128: an opaque ID.
    Opaque,
}

/// The demo GS1 company prefix: GS1 prefix 952 (for examples) + company number 1234.
const DEMO_GS1_COMPANY_PREFIX: &str = "9521234";

/// The barcode text of the `n`th (1-based) demo parcel of the day `date` (`YYYY-MM-DD`). The
/// serial is made of the date and `n`, so the routes of different days never share a
/// barcode, and check digits are right.
fn demo_barcode(kind: DemoLabel, n: usize, date: &str) -> String {
    let digits: String = date.chars().filter(char::is_ascii_digit).collect();
    let yymmdd = digits.get(2..8).unwrap_or("000000");
    let to_digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<u8>>();
    match kind {
        DemoLabel::Sscc => {
            // Extension digit 0, company prefix (7 digits), serial reference (9), check digit.
            let body = format!("0{DEMO_GS1_COMPANY_PREFIX}{yymmdd}{:03}", n % 1000);
            let check = barcode::gs1_check_digit(&to_digits(&body));
            format!("(00){body}{check}")
        }
        DemoLabel::S10 => {
            // Service indicator CP (parcel), serial, check digit, country NL.
            let serial = format!("{yymmdd}{:02}", n % 100);
            let mut serial_digits = [0u8; 8];
            serial_digits.copy_from_slice(&to_digits(&serial));
            let check = barcode::s10_check_digit(&serial_digits);
            format!("CP{serial}{check}NL")
        }
        DemoLabel::Opaque => format!("DEMO-{yymmdd}-{n:02}"),
    }
}

struct DemoSpec {
    label: &'static str,
    kind: DemoLabel,
    name: &'static str,
    address: &'static str,
    postal: &'static str,
    email: Option<&'static str>,
    phone: Option<&'static str>,
    value: Option<&'static str>,
    method: DeliveryMethod,
    age: bool,
    opt_in: bool,
    shipper: bool,
    alternatives: &'static [DeliveryMethod],
    safe_places: &'static [&'static str],
    language: Option<&'static str>,
}

const fn spec(label: &'static str, name: &'static str, address: &'static str) -> DemoSpec {
    DemoSpec {
        label,
        kind: DemoLabel::Sscc,
        name,
        address,
        postal: "1011",
        email: None,
        phone: None,
        value: None,
        method: DeliveryMethod::HandToRecipient,
        age: false,
        opt_in: false,
        shipper: false,
        alternatives: &[],
        safe_places: &[],
        language: None,
    }
}

/// The demo route's parcels. Long because it is data: one entry per parcel, each showing
/// one thing the policy or the door does.
fn demo_specs() -> Vec<DemoSpec> {
    vec![
        DemoSpec {
            value: Some("24.90"),
            email: Some("ada@example.com"),
            ..spec(
                "no code: low value",
                "Ada Lovelace",
                "Keizersgracht 1, Amsterdam",
            )
        },
        DemoSpec {
            value: Some("612.00"),
            email: Some("grace@example.com"),
            ..spec(
                "code + photo: high value",
                "Grace Hopper",
                "Herengracht 20, Amsterdam",
            )
        },
        DemoSpec {
            value: Some("1499.00"),
            email: Some("alan@example.com"),
            ..spec(
                "code, no offline handover: very high value",
                "Alan Turing",
                "Prinsengracht 300, Amsterdam",
            )
        },
        DemoSpec {
            opt_in: true,
            phone: Some("+31600000004"),
            email: Some("edsger@example.com"),
            ..spec(
                "code: recipient asked for one (stop with two parcels)",
                "Edsger Dijkstra",
                "Singel 40, Amsterdam",
            )
        },
        DemoSpec {
            opt_in: true,
            phone: Some("+31600000004"),
            email: Some("edsger@example.com"),
            ..spec(
                "code: second parcel of the same stop (shares the code)",
                "Edsger Dijkstra",
                "Singel 40, Amsterdam",
            )
        },
        DemoSpec {
            age: true,
            value: Some("45.00"),
            email: Some("barbara@example.com"),
            ..spec(
                "code, no offline handover: age-restricted",
                "Barbara Liskov",
                "Damrak 5, Amsterdam",
            )
        },
        DemoSpec {
            shipper: true,
            email: Some("donald@example.com"),
            ..spec(
                "code: shipper requires one",
                "Donald Knuth",
                "Rokin 70, Amsterdam",
            )
        },
        DemoSpec {
            method: DeliveryMethod::SafePlace,
            value: Some("12.00"),
            kind: DemoLabel::Opaque,
            safe_places: &["front porch", "behind the side gate"],
            ..spec(
                "no code: safe place",
                "Margaret Hamilton",
                "Spui 10, Amsterdam",
            )
        },
        DemoSpec {
            method: DeliveryMethod::Neighbour,
            kind: DemoLabel::S10,
            ..spec("no code: neighbour", "Ken Thompson", "Dam 1, Amsterdam")
        },
        DemoSpec {
            value: Some("89.00"),
            email: Some("frances@example.com"),
            alternatives: &[DeliveryMethod::Neighbour, DeliveryMethod::SafePlace],
            safe_places: &["in the garden shed"],
            language: Some("es"),
            ..spec(
                "no code: two parcels, one stop; neighbour or safe place allowed",
                "Frances Allen",
                "Kalverstraat 92, Amsterdam",
            )
        },
        DemoSpec {
            value: Some("15.00"),
            email: Some("frances@example.com"),
            alternatives: &[DeliveryMethod::Neighbour, DeliveryMethod::SafePlace],
            language: Some("es"),
            ..spec(
                "no code: second parcel of the same stop",
                "Frances Allen",
                "Kalverstraat 92, Amsterdam",
            )
        },
        DemoSpec {
            method: DeliveryMethod::PickupPoint,
            value: Some("30.00"),
            email: Some("radia@example.com"),
            opt_in: true,
            ..spec(
                "code: pickup point, recipient asked",
                "Radia Perlman",
                "Nieuwmarkt 4, Amsterdam",
            )
        },
    ]
}

/// Seeds a shipper, a courier "Demo Courier" and a route of 12 parcels on 10 stops for
/// `date`. Works on a data directory whose server is not running (or before [`launch`]).
/// Calling it again on the same directory adds a fresh enrollment code and reuses the rest.
/// Long because it reads as the demo's script: each step a few lines, in the order it runs.
pub fn seed_demo(config: &ServerConfig, date: &str) -> Result<DemoSeed, ServerError> {
    let store = open_store(config)?;
    let now = config.clock.now_ms();
    let courier_id = match store.courier_by_name("Demo Courier")? {
        Some(id) => id,
        None => store.create_courier("Demo Courier", now)?,
    };
    let (shipper_id, shipper_api_key, _) = store.create_shipper("Demo Shop", None, now)?;
    let mut parcels = Vec::new();
    let mut stop_codes: HashMap<StopId, String> = Default::default();
    for (i, s) in demo_specs().into_iter().enumerate() {
        let barcode = demo_barcode(s.kind, i + 1, date);
        let req = CreateParcelRequest {
            barcode: barcode.clone(),
            recipient: Recipient {
                name: s.name.into(),
                phone: s.phone.map(Into::into),
                email: s.email.map(Into::into),
                language: s.language.map(Into::into),
            },
            address: s.address.into(),
            postal_code: s.postal.into(),
            location: Some(Location {
                lat: 52.37 + i as f64 * 0.001,
                lon: 4.89 + i as f64 * 0.001,
                accuracy_m: None,
            }),
            declared_value: s.value.map(|v| Money {
                amount: v.into(),
                currency: "EUR".into(),
            }),
            method: s.method,
            alternatives: s.alternatives.to_vec(),
            safe_places: s.safe_places.iter().map(|p| p.to_string()).collect(),
            delivery_date: date.into(),
            age_restricted: s.age,
            recipient_requested_code: s.opt_in,
            shipper_requires_code: s.shipper,
            courier_id: Some(courier_id),
            description: Some(format!("Demo parcel {}", i + 1)),
            reschedule_days: None,
        };
        let parcel =
            NewParcel::check(&req).map_err(|m| ServerError::Config(format!("demo parcel: {m}")))?;
        let created = match store.create_parcel(&shipper_id.to_string(), &parcel, now) {
            Ok(c) => c,
            Err(store::StoreError::Conflict(_)) => {
                return Err(ServerError::Config(format!(
                    "the demo route for {date} is already seeded in this data directory; use a fresh --data-dir"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(code) = &created.new_code {
            stop_codes.insert(created.view.stop_id, code.clone());
        }
        parcels.push(DemoParcel {
            parcel_id: created.view.parcel_id,
            stop_id: created.view.stop_id,
            barcode_key: created.view.barcode.clone(),
            barcode,
            code: None,
            code_required: created.view.decision.code_required,
            offline_allowed: created.view.decision.offline_allowed,
            photo_required: created.decision.photo_required,
            label: s.label.into(),
            recipient_name: s.name.into(),
            customer_url: created.view.customer_url.clone(),
        });
    }
    for p in &mut parcels {
        p.code = stop_codes.get(&p.stop_id).cloned();
    }
    // A parcel of the same day on another courier's route.
    let other = match store.courier_by_name("Second Courier")? {
        Some(id) => id,
        None => store.create_courier("Second Courier", now)?,
    };
    let off_route_barcode = demo_barcode(DemoLabel::Opaque, demo_specs().len() + 1, date);
    let off_route = NewParcel::check(&CreateParcelRequest {
        barcode: off_route_barcode.clone(),
        recipient: Recipient {
            name: "Tim Berners-Lee".into(),
            phone: None,
            email: None,
            language: None,
        },
        address: "Leidseplein 12, Amsterdam".into(),
        postal_code: "1017".into(),
        location: None,
        declared_value: Some(Money {
            amount: "20.00".into(),
            currency: "EUR".into(),
        }),
        method: DeliveryMethod::HandToRecipient,
        alternatives: Vec::new(),
        safe_places: Vec::new(),
        delivery_date: date.into(),
        age_restricted: false,
        recipient_requested_code: false,
        shipper_requires_code: false,
        courier_id: Some(other),
        description: Some("Not on Demo Courier's route (Second Courier's parcel)".into()),
        reschedule_days: None,
    })
    .map_err(|m| ServerError::Config(format!("demo parcel: {m}")))?;
    store.create_parcel(&shipper_id.to_string(), &off_route, now)?;
    let (enrollment_code, _) = store.create_enrollment(courier_id, 48 * 3600 * 1000, now)?;
    Ok(DemoSeed {
        enrollment_code,
        shipper_api_key,
        admin_token: store.secrets().admin_token().to_string(),
        courier_id,
        parcels,
        off_route_barcode,
    })
}

/// The demo fleet's pickup points (when `demo` is given no `--pickup-points` file).
pub fn pickup_points() -> Vec<crate::domain::customer::PickupPoint> {
    [
        ("kiosk-central", "Kiosk Central", "1 Station Road"),
        (
            "locker-market",
            "Parcel locker, Market Square",
            "Market Square 4",
        ),
    ]
    .into_iter()
    .map(|(id, name, address)| crate::domain::customer::PickupPoint {
        id: id.into(),
        name: name.into(),
        address: address.into(),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::labels::tests::read_back;
    use doorstep_protocol::Barcode;

    fn demo_labels(date: &str) -> Vec<String> {
        demo_specs()
            .iter()
            .enumerate()
            .map(|(i, s)| demo_barcode(s.kind, i + 1, date))
            .collect()
    }

    #[test]
    fn every_demo_label_reads_back_as_the_parcel_it_was_made_for() {
        for date in ["2026-11-25", "2027-01-01"] {
            let labels = demo_labels(date);
            let parsed: Vec<Barcode> = labels.iter().map(|l| Barcode::parse(l).unwrap()).collect();
            let ssccs = parsed
                .iter()
                .filter(|b| matches!(b, Barcode::Sscc { .. }))
                .count();
            let s10 = parsed
                .iter()
                .filter(|b| matches!(b, Barcode::S10 { .. }))
                .count();
            let opaque = parsed
                .iter()
                .filter(|b| matches!(b, Barcode::Opaque { .. }))
                .count();
            assert_eq!((ssccs, s10, opaque), (10, 1, 1), "{labels:?}");
            for (label, barcode) in labels.iter().zip(&parsed) {
                let (values, aim, data) = read_back(label);
                assert_eq!(
                    values[1] == 102,
                    matches!(barcode, Barcode::Sscc { .. }),
                    "{label}: FNC1 first exactly on GS1 labels"
                );
                // With AIM identifiers on, and off (the FNC1 in first position is then not
                // transmitted at all), the scan resolves to the parcel.
                for text in [format!("{aim}{data}"), data.clone()] {
                    let key = Barcode::parse(&text).map(|b| b.key());
                    assert_eq!(key, Ok(barcode.key()), "{label} scanned as {text:?}");
                }
            }
        }
    }

    #[test]
    fn demo_labels_of_two_days_never_share_a_parcel() {
        let keys = |date| {
            demo_labels(date)
                .iter()
                .map(|l| Barcode::parse(l).unwrap().key())
                .collect::<Vec<_>>()
        };
        let today = keys("2026-11-25");
        let tomorrow = keys("2026-11-26");
        let mut all: Vec<_> = today.iter().chain(&tomorrow).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 24);
    }
}
