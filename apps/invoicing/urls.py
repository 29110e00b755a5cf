from django.urls import path

from . import views

app_name = "invoicing"

urlpatterns = [
    path("", views.invoice_list, name="invoice_list"),
    path("billing-details/", views.billing_details, name="billing_details"),
    path("<str:number>/", views.invoice_detail, name="invoice_detail"),
    path("<str:number>/csv/", views.invoice_csv, name="invoice_csv"),
    path("<str:number>/pdf/", views.invoice_pdf, name="invoice_pdf"),
]
