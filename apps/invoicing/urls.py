from django.urls import path

from . import views

app_name = "invoicing"

urlpatterns = [
    path("", views.invoice_list, name="invoice_list"),
    path("billing-details/", views.billing_details, name="billing_details"),
    path("credit-notes/<str:number>/", views.credit_note_detail, name="credit_note_detail"),
    path("credit-notes/<str:number>/pdf/", views.credit_note_pdf, name="credit_note_pdf"),
    path("<str:number>/", views.invoice_detail, name="invoice_detail"),
    path("<str:number>/csv/", views.invoice_csv, name="invoice_csv"),
    path("<str:number>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("<str:number>/pay/", views.invoice_pay, name="invoice_pay"),
]
