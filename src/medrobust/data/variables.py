"""The variable set of the PhysioNet/CinC Challenge 2012 (Silva et al., Computing in Cardiology 2012).

Every EHR source (the 2012 sets themselves, the MIMIC demos, full MIMIC) is mapped onto these names so
that one model and one attack code path serve them all. Units are the 2012 ones, which are MIMIC-II's:
Temp in degrees C, FiO2 as a fraction, Weight in kg, Height in cm.
Source: https://physionet.org/content/challenge-2012/1.0.0/ ("General descriptors" and "Time series").
"""
from __future__ import annotations

# The 37 time-series variables, alphabetical as on the challenge page. Weight is also a general
# descriptor at admission; it is kept in both places, as in the challenge's records.
CHALLENGE2012_VARIABLES: tuple[str, ...] = (
    "ALP", "ALT", "AST", "Albumin", "BUN", "Bilirubin", "Cholesterol", "Creatinine", "DiasABP",
    "FiO2", "GCS", "Glucose", "HCO3", "HCT", "HR", "K", "Lactate", "MAP", "MechVent", "Mg",
    "NIDiasABP", "NIMAP", "NISysABP", "Na", "PaCO2", "PaO2", "Platelets", "RespRate", "SaO2",
    "SysABP", "Temp", "TroponinI", "TroponinT", "Urine", "WBC", "Weight", "pH",
)

# The general descriptors recorded at ICU admission.
CHALLENGE2012_STATIC: tuple[str, ...] = ("Age", "Gender", "Height", "ICUType", "Weight")

# ICUType codes of the challenge.
ICU_TYPES: dict[int, str] = {
    1: "Coronary Care Unit",
    2: "Cardiac Surgery Recovery Unit",
    3: "Medical ICU",
    4: "Surgical ICU",
}
