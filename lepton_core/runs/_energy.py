"""The energy a run used and its CO₂, measured offline with CodeCarbon.

CodeCarbon's ``OfflineEmissionsTracker`` never asks the network for the location or
the grid's carbon intensity: the country comes from ``$LEPTON_COUNTRY`` (a three-letter
ISO code, :data:`DEFAULT_COUNTRY` when unset) and its average intensity from the table
CodeCarbon ships. Its file, API, Prometheus and Logfire outputs are off and its logging
is quiet. Where the processor's energy counters (RAPL) cannot be read, CodeCarbon
*estimates* the processor's power from its rated power (TDP) and how busy the run kept
it, and the memory's from its size; :class:`EnergyReport` records which method gave the
figures so that the pages can say so. A failure to measure never fails a run: the
report says "not measured" and why. An Auto run's report adds the search that chose the
model (:func:`with_search`), so that its figure is what the model cost, not only its
final training. CodeCarbon is imported inside :meth:`EnergyMeter.start`
(it imports pandas and its tables), so importing this module stays fast.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from lepton_core.core import JsonMixin, Message, Translated

__all__ = [
    "DEFAULT_COUNTRY",
    "ENV_COUNTRY",
    "EnergyMeter",
    "EnergyReport",
    "country_name",
    "energy_country",
    "energy_facts",
    "energy_per_1000",
    "load_energy",
    "measured",
    "record_energy",
    "with_search",
]

ENV_COUNTRY = "LEPTON_COUNTRY"
#: The country whose grid intensity is assumed when ``$LEPTON_COUNTRY`` is not set.
DEFAULT_COUNTRY = "USA"
#: The MLflow metrics a measured run carries.
METRICS = ("energy_kwh", "co2_g", "energy_duration_s")
_MEASURED_CPU = {"intel_rapl", "intel_power_gadget", "apple_powermetrics", "windows_emi"}


def energy_country(value: str | None = None) -> str:
    """``value``, else ``$LEPTON_COUNTRY``, else :data:`DEFAULT_COUNTRY`, upper-cased."""
    raw = value if value is not None else os.environ.get(ENV_COUNTRY, "")
    return raw.strip().upper() or DEFAULT_COUNTRY


@dataclass
class EnergyReport(JsonMixin):
    """What one measured stretch of work used.

    Attributes
    ----------
    measured : bool
        False when nothing could be measured; ``reason`` then says why.
    energy_kwh, cpu_kwh, ram_kwh, gpu_kwh : float
        Electricity used in total and by part, in kilowatt-hours.
    co2_g : float
        Estimated CO₂-equivalent in grams: energy × the country's grid intensity.
    duration_s : float
        Wall-clock seconds measured.
    country, country_name : str
        The ISO code and name whose average grid intensity was used.
    intensity_g_per_kwh : float
        That intensity (CodeCarbon's table), grams of CO₂ per kWh.
    cpu_method : str
        How the processor's share was found: ``intel_rapl`` and the like are measured
        counters; ``cpu_load`` scales the rated power ``cpu_power_w`` by the load;
        ``constant`` assumes ``cpu_power_w`` throughout.
    cpu_power_w, ram_power_w : float
        The rated processor power and the memory power CodeCarbon assumed.
    gpu : bool
        Whether a GPU was measured (through NVIDIA's driver).
    reason : Message or str
        Why nothing was measured (empty when ``measured``).
    trials : int
        For a search's own report: the trials it ran.
    search : EnergyReport, optional
        For an Auto run: the search that chose the model (its trials and the choice of an
        ensemble), measured apart. When both were measured the figures above are the
        search and the final training added up; else they are the final training's.
    """

    measured: bool
    energy_kwh: float = 0.0
    co2_g: float = 0.0
    duration_s: float = 0.0
    cpu_kwh: float = 0.0
    ram_kwh: float = 0.0
    gpu_kwh: float = 0.0
    country: str = ""
    country_name: str = ""
    intensity_g_per_kwh: float = 0.0
    cpu_method: str = ""
    cpu_power_w: float = 0.0
    ram_power_w: float = 0.0
    gpu: bool = False
    reason: Message | str = ""
    trials: int = 0
    search: EnergyReport | None = None

    @property
    def estimated(self) -> bool:
        """True when the processor's share is an estimate rather than a counter's reading."""
        return self.cpu_method not in _MEASURED_CPU

    def metrics(self) -> dict[str, float]:
        """The figures stored as MLflow metrics (none when not measured); an Auto run's
        also its search's share, ``search_energy_kwh`` and ``search_co2_g``."""
        if not self.measured:
            return {}
        metrics = dict(zip(METRICS, (self.energy_kwh, self.co2_g, self.duration_s), strict=True))
        if self.search is not None and self.search.measured:  # the search's share of them
            metrics["search_energy_kwh"] = self.search.energy_kwh
            metrics["search_co2_g"] = self.search.co2_g
        return metrics

    def sentence(self) -> Message:
        """One line for the pages: "Energy used: 0.4 Wh (about 0.2 g CO₂, …)", and for an
        Auto run "…, of which the search of 12 trials used 0.3 Wh (…)"."""
        search = self.search
        if not self.measured:
            if search is not None and search.measured:  # the final training alone failed
                return Message(
                    "energy.search_only",
                    **search._figures(),
                    trials=_trials(search.trials),
                    reason=self.reason,
                )
            return Message("energy.not_measured", reason=self.reason)
        if search is None:
            return Message("energy.used", **self._figures())
        if not search.measured:
            return Message(
                "energy.search_not_measured",
                **self._figures(),
                trials=_trials(search.trials),
                reason=search.reason,
            )
        return Message(
            "energy.used_search",
            **self._figures(),
            trials=_trials(search.trials),
            search_energy=_amount(search.energy_kwh * 1000, ("mWh", "Wh", "kWh")),
            search_co2=_amount(search.co2_g, ("mg", "g", "kg")),
        )

    def _figures(self) -> dict[str, Any]:
        return {
            "energy": _amount(self.energy_kwh * 1000, ("mWh", "Wh", "kWh")),
            "co2": _amount(self.co2_g, ("mg", "g", "kg")),
            "country": country_name(self.country, self.country_name),
        }

    def method(self) -> Message:
        """How the figures were found, in plain words (the help icon's text)."""
        if not self.measured:
            if self.search is not None and self.search.measured:
                return self.search.method()
            return Message("energy.not_measured", reason=self.reason)
        if self.cpu_method in _MEASURED_CPU:
            cpu = Message("energy.cpu_counters")
        elif self.cpu_method == "constant":
            cpu = Message("energy.cpu_constant", watts=round(self.cpu_power_w, 1))
        else:
            cpu = Message("energy.cpu_load", watts=round(self.cpu_power_w, 1))
        return Message(
            "energy.method",
            cpu=cpu,
            ram=round(self.ram_power_w, 1),
            gpu=Message("energy.gpu_measured") if self.gpu else "",
            intensity=round(self.intensity_g_per_kwh),
            country=country_name(self.country, self.country_name),
        )


def country_name(code: str, english: str = "") -> Translated | str:
    """The country of ISO code ``code`` by name in each language of the pages; ``english``
    (CodeCarbon's name) or the code where the name is not known.

    The names and their Chinese translations are pycountry's (ISO 3166), which CodeCarbon
    depends on.
    """
    try:
        import gettext

        import pycountry

        name = pycountry.countries.get(alpha_3=code).name
        translation = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"])
    except Exception:  # a name is a nicety: never fail a page for it
        return english or code
    return Translated({"en": english or name, "zh": translation.gettext(name)})


def _trials(count: int) -> Message:
    return Message("energy.one_trial") if count == 1 else Message("energy.trials", count=count)


def _amount(value: float, units: tuple[str, str, str]) -> str:
    """``value`` (in the middle unit) with the unit that keeps it readable."""
    small, middle, large = units
    if value >= 1000:
        value, unit = value / 1000, large
    elif 0 < value < 0.1:
        value, unit = value * 1000, small
    else:
        unit = middle
    text = f"{value:.2g}" if value < 10 else f"{value:,.0f}"
    return f"{text} {unit}"


class EnergyMeter:
    """Measures the energy this process (and its children) use between start and stop.

    ``start`` and ``stop`` never raise: anything CodeCarbon cannot do becomes an
    :class:`EnergyReport` with ``measured=False`` and the reason.
    """

    def __init__(self, country: str | None = None, every_s: float = 5.0):
        self.country = energy_country(country)
        self.every_s = every_s
        self._tracker: Any = None
        self._began = 0.0
        self._reason: Message | str = ""
        self._folder: tempfile.TemporaryDirectory | None = None

    def start(self) -> EnergyMeter:
        """Begin measuring; returns ``self``."""
        self._began = time.perf_counter()
        try:
            from codecarbon import OfflineEmissionsTracker
            from codecarbon.input import DataSource
        except ImportError:
            self._reason = Message("energy.no_codecarbon")
            return self
        if self.country not in DataSource().get_global_energy_mix_data():
            self._reason = Message("energy.unknown_country", country=self.country, env=ENV_COUNTRY)
            return self
        # CodeCarbon logs at INFO before it reads its own log_level; keep the run's log clean.
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        self._folder = tempfile.TemporaryDirectory(prefix="lepton-energy-")
        try:
            self._tracker = OfflineEmissionsTracker(
                country_iso_code=self.country,
                project_name="lepton",
                output_dir=self._folder.name,  # nothing is written there; a safe place if it were
                save_to_file=False,
                save_to_api=False,
                save_to_logger=False,
                save_to_prometheus=False,
                save_to_logfire=False,
                log_level="error",
                tracking_mode="process",  # this run's process and its children, not the machine
                measure_power_secs=self.every_s,
                # Jobs run side by side; CodeCarbon's lock would leave all but one unmeasured.
                allow_multiple_runs=True,
            )
            self._tracker.start()
            _count_children_from_birth(self._tracker)
        except Exception as exc:  # measuring must never fail a run
            self._reason = Message("energy.failed", error=f"{type(exc).__name__}: {exc}")
            self._tracker = None
            self._folder.cleanup()
            self._folder = None
        return self

    def stop(self) -> EnergyReport:
        """Stop measuring and report what was used."""
        duration = time.perf_counter() - self._began
        tracker, self._tracker = self._tracker, None
        try:
            if tracker is None:
                return EnergyReport(measured=False, duration_s=duration, reason=self._reason)
            try:
                tracker.stop()
                data = tracker.final_emissions_data
                return _report(tracker, data, duration, self.country)
            except Exception as exc:  # measuring must never fail a run
                reason = Message("energy.failed", error=f"{type(exc).__name__}: {exc}")
                return EnergyReport(measured=False, duration_s=duration, reason=reason)
        finally:
            if self._folder is not None:
                self._folder.cleanup()
                self._folder = None


def _count_children_from_birth(tracker: Any) -> None:
    """Count a child process's CPU time from its start, not from the first sample that sees it.

    CodeCarbon's process tracking takes a child's CPU time at the first sample that finds
    it as its starting point, so the work a child does before then (up to a sampling
    interval: a Ray worker's or a federated client's first seconds) is never counted.
    Every sample lists all the process's descendants, so one that the previous sample did
    not list started since: its starting point is zero. Where CodeCarbon does not track
    processes this way, nothing changes.
    """
    for hardware in tracker._hardware:
        read = getattr(hardware, "_get_process_cpu_times", None)
        if read is None or not isinstance(getattr(hardware, "_last_cpu_times", None), dict):
            continue

        def read_from_birth(hardware: Any = hardware, read: Callable[[], dict] = read) -> dict:
            times = read()
            if hardware._last_measurement_time is not None:  # not the first sample
                for pid in times.keys() - hardware._last_cpu_times.keys():
                    hardware._last_cpu_times[pid] = 0.0
            return times

        hardware._get_process_cpu_times = read_from_birth


def _report(tracker: Any, data: Any, duration: float, country: str) -> EnergyReport:
    """An :class:`EnergyReport` from CodeCarbon's final figures and its hardware list."""
    energy = float(data.energy_consumed)
    if not energy > 0:
        return EnergyReport(
            measured=False, duration_s=duration, reason=Message("energy.nothing_measured")
        )
    cpu = next((h for h in tracker._hardware if type(h).__name__ == "CPU"), None)
    co2_g = float(data.emissions) * 1000
    return EnergyReport(
        measured=True,
        energy_kwh=energy,
        co2_g=co2_g,
        duration_s=duration,
        cpu_kwh=float(data.cpu_energy),
        ram_kwh=float(data.ram_energy),
        gpu_kwh=float(data.gpu_energy),
        country=country,
        country_name=str(data.country_name or country),
        intensity_g_per_kwh=co2_g / energy,
        cpu_method=str(getattr(cpu, "_mode", "")),
        cpu_power_w=float(getattr(cpu, "_tdp", 0) or 0),
        ram_power_w=float(data.ram_power),
        gpu=int(data.gpu_count or 0) > 0,
    )


def with_search(final: EnergyReport, search: EnergyReport) -> EnergyReport:
    """An Auto run's report: ``final`` (the chosen model's training) with ``search`` (what
    chose it) kept in ``search`` and, when both were measured, added into the figures."""
    if not (final.measured and search.measured):
        return replace(final, search=search)
    return replace(
        final,
        energy_kwh=final.energy_kwh + search.energy_kwh,
        co2_g=final.co2_g + search.co2_g,
        duration_s=final.duration_s + search.duration_s,
        cpu_kwh=final.cpu_kwh + search.cpu_kwh,
        ram_kwh=final.ram_kwh + search.ram_kwh,
        gpu_kwh=final.gpu_kwh + search.gpu_kwh,
        gpu=final.gpu or search.gpu,
        search=search,
    )


def energy_per_1000(report: EnergyReport, predictions: int) -> float | None:
    """Watt-hours per 1,000 predictions, or None when nothing was measured."""
    if not report.measured or predictions <= 0:
        return None
    return report.energy_kwh * 1000 * 1000 / predictions


def record_energy(workspace: Any, run_id: str, report: EnergyReport) -> None:
    """Store ``report`` with a run: its figures as metrics, the whole report as ``energy``.

    Called again with the same run (an Auto run adds its search), the later report
    replaces the earlier one.
    """
    for key, value in report.metrics().items():
        workspace.client.log_metric(run_id, key, value)
    workspace.log_report(run_id, "energy", report.to_dict())


R = TypeVar("R")


def measured(workspace: Any, run: Callable[[], R]) -> R:
    """Call ``run`` (a training that returns a result with ``run_id`` and ``energy``)
    under an :class:`EnergyMeter`, and store the energy it used with its run."""
    meter = EnergyMeter().start()
    try:
        result = run()
    finally:  # stopped on failure too: CodeCarbon's timer thread would outlive the run
        energy = meter.stop()
    result.energy = energy  # type: ignore[attr-defined]
    record_energy(workspace, result.run_id, energy)  # type: ignore[attr-defined]
    return result


def load_energy(workspace: Any, run_id: str) -> EnergyReport | None:
    """The energy report a run stored; None for a run recorded without one."""
    stored = workspace.find_report(run_id, "energy")
    return EnergyReport.from_dict(stored) if stored is not None else None


def energy_facts(workspace: Any, run_id: str) -> list[Message | str]:
    """The model card's lines: what training used, and how that was found."""
    report = load_energy(workspace, run_id)
    return [] if report is None else [report.sentence(), report.method()]
