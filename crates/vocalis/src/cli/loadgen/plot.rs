//! The capacity curve as SVG: p50 and p95 final latency against the number
//! of concurrent calls, the SLO as a horizontal line and the capacity as a
//! vertical one (plotters' SVG backend, no system fonts).

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use super::report::StepReport;

/// Writes the plot of `steps` to `path`.
pub fn write_svg(
    path: &Path,
    steps: &[StepReport],
    slo_p95_s: f64,
    capacity: Option<usize>,
    title: &str,
) -> anyhow::Result<()> {
    let p50: Vec<(f64, f64)> = points(steps, |s| s.final_latency_s.p50);
    let p95: Vec<(f64, f64)> = points(steps, |s| s.final_latency_s.p95);
    let max_x = steps.iter().map(|s| s.calls).max().unwrap_or(1).max(2) as f64;
    let max_y = p95
        .iter()
        .map(|&(_, y)| y)
        .fold(slo_p95_s, f64::max)
        .max(0.5)
        * 1.15;
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error + '_>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..max_x * 1.05, 0.0..max_y)?;
        chart
            .configure_mesh()
            .x_desc("concurrent calls")
            .y_desc("final latency (s)")
            .draw()?;
        chart
            .draw_series(LineSeries::new(p50.iter().copied(), BLUE.stroke_width(2)))?
            .label("p50 final")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        chart.draw_series(p50.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))?;
        chart
            .draw_series(LineSeries::new(p95.iter().copied(), RED.stroke_width(2)))?
            .label("p95 final")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        chart.draw_series(p95.iter().map(|&p| Circle::new(p, 3, RED.filled())))?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, slo_p95_s), (max_x * 1.05, slo_p95_s)],
                BLACK.mix(0.5),
            ))?
            .label(format!("SLO p95 {slo_p95_s} s"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.5)));
        if let Some(capacity) = capacity {
            let x = capacity as f64;
            chart
                .draw_series(LineSeries::new(
                    [(x, 0.0), (x, max_y)],
                    GREEN.stroke_width(2),
                ))?
                .label(format!("capacity {capacity} calls"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot write the plot {}", path.display()))
}

fn points(steps: &[StepReport], value: impl Fn(&StepReport) -> Option<f64>) -> Vec<(f64, f64)> {
    steps
        .iter()
        .filter_map(|s| value(s).map(|v| (s.calls as f64, v)))
        .collect()
}
