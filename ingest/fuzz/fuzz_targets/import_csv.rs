//! Fuzz target: the importer for the generic CSV mapping (quoted fields, header names, datetimes in a zone).
//!
//! The contract checked is in `import_common.rs`.
#![no_main]

#[path = "import_common.rs"]
mod import_common;

use ingest::import::*;
use libfuzzer_sys::fuzz_target;

fn mapping() -> CsvMapping {
    CsvMapping {
        delimiter: b',',
        quote: Some(b'"'),
        header: true,
        time: Column::Name("time".into()),
        time_format: TimeFormat::Datetime {
            zone: Zone::parse("America/New_York").unwrap(),
        },
        recv_time: None,
        symbol: Some(Column::Index(3)),
        fields: CsvFields::Quote {
            bid: Column::Index(1),
            ask: Column::Name("ask".into()),
            bid_size: Some(Column::Index(4)),
            ask_size: None,
        },
    }
}

fuzz_target!(|data: &[u8]| {
    import_common::check_import("eurusd.csv", Format::Csv(mapping()), data);
});
